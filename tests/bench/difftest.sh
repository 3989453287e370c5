#!/bin/sh
# difftest.sh: the differential test of h111_apply at length: the set-based
# function (src/sql/functions/intake.sql) against the one event at a time
# reference (tests/data/intake_reference.sql) on many random batches, each
# seed in fresh databases of a private PostgreSQL. `make check` runs one
# seed of it (tests/integration/test_intake_diff.py, which says what is
# compared).
#
#   tests/bench/difftest.sh [SEED...]     (default: seeds 1 to 10)
#
# Environment: H111_BUILD (build tree with src/hotline111d, default build),
# BATCHES (batches per seed, 60), MAX (events per batch at most, 40).
# Exit status 0 when every seed gave the same rows, notifications and tables.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${H111_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
[ -x "$build/src/hotline111d" ] || { echo "difftest.sh: build $build/src/hotline111d first" >&2; exit 1; }
[ $# -gt 0 ] || set -- 1 2 3 4 5 6 7 8 9 10
H111_TOP_BUILDDIR=$build H111_DIFF_SEEDS="$*" H111_DIFF_BATCHES=${BATCHES:-60} \
	H111_DIFF_MAX=${MAX:-40} exec python3 "$top/tests/integration/test_intake_diff.py"
