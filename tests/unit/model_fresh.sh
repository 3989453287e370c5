#!/bin/sh
# model_fresh.sh: the committed conf/triage.model is exactly what
# `make model` makes from the shipped labelled notes (so it can never go
# stale), and conf/rules.conf loads with it. An automake test.

top_src=${H111_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${H111_TOP_BUILDDIR:-$top_src}
daemon="$top_build/src/hotline111d"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

[ -n "$H111_MODEL_CORPUS" ] || { echo "H111_MODEL_CORPUS not set (run through make check)"; exit 99; }
set --
for f in $H111_MODEL_CORPUS; do
	set -- "$@" "$top_src/$f"
done
"$daemon" --train -o "$tmp/triage.model" --rules "$top_src/conf/rules.conf" "$@" >"$tmp/out" ||
	{ cat "$tmp/out"; exit 1; }
if ! cmp -s "$tmp/triage.model" "$top_src/conf/triage.model"; then
	echo "FAIL: conf/triage.model is stale: run 'make model' and commit it"
	diff "$tmp/triage.model" "$top_src/conf/triage.model" | head -5
	exit 1
fi
echo "PASS: conf/triage.model is what make model makes"
grep ' all ' "$tmp/out"
out=$("$daemon" --check-rules "$top_src/conf/rules.conf") || exit 1
case $out in
*"model $top_src/conf/triage.model ("*", ok") echo "PASS: $out" ;;
*) echo "FAIL: conf/rules.conf does not name conf/triage.model: $out"; exit 1 ;;
esac
