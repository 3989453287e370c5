#!/bin/sh
# run-seeds.sh: replay each fuzz target's seed corpus (an automake test).
# Exit 0 when every target found passes, 77 when none could run, 1 on failure.
# A target whose binary or corpus is missing is skipped, and said so.

top_src=${H111_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${H111_TOP_BUILDDIR:-$top_src}

ran=0
failed=0
for target in fuzz_protocol fuzz_config fuzz_rules fuzz_ami fuzz_evapi fuzz_esl fuzz_cti fuzz_spool fuzz_model; do
	bin="$top_build/tests/fuzz/$target"
	corpus="$top_src/tests/fuzz/corpus/${target#fuzz_}"
	if [ ! -x "$bin" ]; then
		echo "SKIP $target: no binary at $bin"
		continue
	fi
	if [ ! -d "$corpus" ]; then
		echo "SKIP $target: no corpus at $corpus"
		continue
	fi
	# A libFuzzer build takes the corpus and -runs=0; replay.c takes the
	# corpus alone. Both exit non-zero on a crash.
	if "$bin" -help=1 2>&1 | grep -q 'libFuzzer'; then
		set -- -runs=0 "$corpus"
	else
		set -- "$corpus"
	fi
	if "$bin" "$@"; then
		echo "PASS $target"
	else
		echo "FAIL $target (exit $?)"
		failed=1
	fi
	ran=$((ran + 1))
done

[ "$failed" -ne 0 ] && exit 1
[ "$ran" -eq 0 ] && exit 77
exit 0
