#!/bin/sh
# triage_same.sh OLD NEW [RULES]: proof that a change to the triage engine
# changed no decision. Every text of the blind batches and of the tuning
# corpus goes through `OLD --triage --json` and `NEW --triage --json` with the
# same rules (default conf/rules.conf); the outputs must be identical. OLD
# is a hotline111d built from the commit before the change (or a file of
# its saved output). Prints the number of texts and exits 0 when nothing
# differs, else prints the differing lines (old, then new) and exits 1.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OLD NEW [RULES]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
rules=${3:-$top/conf/rules.conf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

texts() {
	for f in "$top"/tests/data/triage/blind/*.tsv; do
		grep -v '^#' "$f" | cut -f2
	done
	grep -v '^#' "$top/tests/data/triage/tuning/corpus.tsv" | cut -f4
}

texts | grep -v '^$' >"$tmp/texts"
run() {
	if [ -f "$1" ] && [ ! -x "$1" ]; then
		cp "$1" "$2"
	else
		"$1" --triage --json --rules "$rules" <"$tmp/texts" >"$2"
	fi
}
run "$1" "$tmp/old"
run "$2" "$tmp/new"
n=$(wc -l <"$tmp/texts")
[ "$(wc -l <"$tmp/old")" -eq "$n" ] || { echo "old: $(wc -l <"$tmp/old") lines for $n texts" >&2; exit 1; }
if cmp -s "$tmp/old" "$tmp/new"; then
	echo "$n texts: identical --triage --json output"
	exit 0
fi
diff "$tmp/old" "$tmp/new" | grep '^[<>]' | head -40
echo "$n texts: $(diff "$tmp/old" "$tmp/new" | grep -c '^<') differ" >&2
exit 1
