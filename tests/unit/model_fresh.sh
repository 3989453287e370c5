#!/bin/sh
# model_fresh.sh: the committed conf/triage.model and conf/urgency.model
# are exactly what `make model` makes from the shipped labelled notes (so
# they can never go stale), and conf/rules.conf loads with them. An
# automake test.

top_src=${H111_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${H111_TOP_BUILDDIR:-$top_src}
daemon="$top_build/src/hotline111d"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

[ -n "$H111_MODEL_CORPUS" ] || { echo "H111_MODEL_CORPUS not set (run through make check)"; exit 99; }
corpus=
for f in $H111_MODEL_CORPUS; do
	corpus="$corpus $top_src/$f"
done

# fresh FILE [--urgency]: train FILE as make model does, compare
fresh() {
	# shellcheck disable=SC2086 # the corpus is a list of paths
	"$daemon" --train $2 -o "$tmp/$1" --rules "$top_src/conf/rules.conf" $corpus >"$tmp/out" ||
		{ cat "$tmp/out"; exit 1; }
	if ! cmp -s "$tmp/$1" "$top_src/conf/$1"; then
		echo "FAIL: conf/$1 is stale: run 'make model' and commit it"
		diff "$tmp/$1" "$top_src/conf/$1" | head -5
		exit 1
	fi
	echo "PASS: conf/$1 is what make model makes"
	grep ' all ' "$tmp/out"
}
fresh triage.model
fresh urgency.model --urgency
out=$("$daemon" --check-rules "$top_src/conf/rules.conf") || exit 1
case $out in
*"model $top_src/conf/triage.model ("*"urgency $top_src/conf/urgency.model ("*", ok") echo "PASS: $out" ;;
*) echo "FAIL: conf/rules.conf does not name conf/triage.model and conf/urgency.model: $out"; exit 1 ;;
esac
