#!/bin/bash
# timers.sh: hotline111d with 1,000,000 pending deadlines in the database
# (issue 4, item 7): its start-up time to load them, its resident memory,
# and how late it fires while 1,000 deadlines a second come due.
#
#   tests/bench/timers.sh            (build first: see below)
#
# In one run, in a fresh temporary directory:
#   - a private PostgreSQL (scripts/pg-sandbox), the schema applied by
#     hotline111d --migrate;
#   - DEADLINES pending timers inserted with generate_series, four per case
#     (answer, claim, act, plan; cases P1 and P2, which have all four):
#     all but WINDOW of them fall 1 to 31 days from now; the WINDOW others
#     come due RATE per second, evenly (due = T0 + i * 1000/RATE ms),
#     starting LEAD_S seconds after the daemon starts; they are spread over
#     the cases and the four kinds (every DEADLINES/WINDOW-th slot, one less
#     when that is a multiple of 4). Every timer is a plain
#     deadline: warn_at NULL, level 0, due_at = next_at, started_at = due_at
#     minus the policy's duration for its priority, so each window timer
#     fires exactly one 'escalation' (level 1; the next level is `repeat`
#     = 300 s later, after the run);
#   - hotline111d started; start-up = process start -> "escalation: N pending
#     deadlines loaded" (and -> " ready: "), from the daemon's own log time
#     stamps; VmRSS/VmHWM from /proc after the load and at the end (and
#     VmRSS sampled every 0.5 s);
#   - once the window and GRACE_S seconds have passed: the window's
#     escalations in the table `escalations` (count, each exactly once, none
#     for a timer outside the window, late_ms p50/p99/max by percentile_cont),
#     the same from the JSON Lines escalation log (late_ms of each line), and
#     the lateness as delivered: due -> the time stamp of the daemon's
#     "escalation N: case ..." log line, written after the escalation is
#     committed and its log line written. late_ms is measured from the
#     moment h111_fire() started (clock_timestamp() at its top, one value
#     for its whole batch), so it leaves out the batch's own work, the
#     commit and the trip back; the delivered figure has them.
# Then a summary against the goals (start-up < 5 s, < 200 MB resident, p99
# lateness < 100 ms) and a last line
#   RESULT timers startup_s=… rss_mb=… hwm_mb=… fired=… p50_ms=… p99_ms=… max_ms=…
# (rss_mb after the load, hwm_mb the peak; the p*_ms from the table's late_ms).
#
# Environment: H111_BUILD (build tree, default build-tbench beside the
# sources; build it with
#   mkdir -p build-tbench && cd build-tbench && ../configure && make src/hotline111d),
# DEADLINES (1000000), WINDOW (30000), RATE (1000 per second), LEAD_S (15),
# GRACE_S (5), H111_RULES (default conf/rules.conf), H111_EXTRA_SQL (a file
# of SQL applied after the migration, e.g. a new h111_fire to try without a
# rebuild), KEEP=1 keeps the directory (and its PostgreSQL, stopped).
# Exit status: 0 when the run completed and every window deadline fired
# exactly once (goals met or not: the summary says), 1 otherwise.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${H111_BUILD:-build-tbench}
case $build in /*) ;; *) build=$top/$build ;; esac
daemon_bin=$build/src/hotline111d
DEADLINES=${DEADLINES:-1000000}
WINDOW=${WINDOW:-30000}
RATE=${RATE:-1000}
LEAD_S=${LEAD_S:-15}
GRACE_S=${GRACE_S:-5}
rules=${H111_RULES:-$top/conf/rules.conf}

[ -x "$daemon_bin" ] || { echo "timers.sh: no $daemon_bin; build it: cd $top &&" \
	"mkdir -p build-tbench && cd build-tbench && ../configure && make src/hotline111d" >&2
	exit 1; }
command -v psql >/dev/null || { echo "timers.sh: psql not found (postgresql-client)" >&2; exit 1; }
[ "$WINDOW" -ge 1 ] && [ "$WINDOW" -le "$DEADLINES" ] || { echo "timers.sh: need 1 <= WINDOW <= DEADLINES" >&2; exit 1; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/h111-timers-XXXXXX)
chmod 755 "$tmp" # the server may run as user postgres
dpid= spid=
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || :; wait "$spid" 2>/dev/null || :; fi
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill "$dpid" 2>/dev/null || :
		wait "$dpid" 2>/dev/null || :
	fi
	"$top/scripts/pg-sandbox" stop "$tmp/pg" >/dev/null 2>&1 || :
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "== $*" >&2; }
fail() { echo "timers.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# CPU seconds (user + system) of a process, from /proc.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' \
		"/proc/$1/stat" 2>/dev/null || echo 0
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# The daemon's log time stamp (local time, ms) of the first line matching
# an awk pattern, in ms since the epoch; empty when there is none.
log_ms() {
	awk -v pat="$1" '$0 ~ pat {
		split(substr($1, 1, 19), a, /[-T:]/)
		ms = mktime(a[1] " " a[2] " " a[3] " " a[4] " " a[5] " " a[6]) * 1000
		printf "%.0f\n", ms + substr($1, 21, 3)
		exit }' "$tmp/daemon.log"
}

# --- PostgreSQL, schema, config --------------------------------------------
say "starting a private PostgreSQL in $tmp/pg"
ci=$("$top/scripts/pg-sandbox" start "$tmp/pg")
q() { psql "$ci" -XAtq -v ON_ERROR_STOP=1 "$@"; }

[ -f "$rules" ] || fail "no rules file $rules (set H111_RULES)"
. "$top/scripts/lib.sh"
h111_private_conf "$tmp" "$ci" "$rules"
conf=$tmp/hotline111d.conf
"$daemon_bin" -c "$conf" --migrate >"$tmp/migrate.log" 2>&1 ||
	{ cat "$tmp/migrate.log" >&2; fail "migration failed"; }
if [ -n "${H111_EXTRA_SQL:-}" ]; then
	say "applying $H111_EXTRA_SQL"
	q -f "$H111_EXTRA_SQL" >/dev/null || fail "$H111_EXTRA_SQL failed"
fi

# --- the deadlines ---------------------------------------------------------
# Slot n (0 .. DEADLINES-1) is case n/4 + 1, deadline n % 4; the window's
# i-th timer is slot i * stride. Durations: the default policy's, P1 for odd
# cases and P2 for even ones (5wd taken as 7 days: started_at is only
# informative here).
ncases=$(( (DEADLINES + 3) / 4 ))
stride=$(( DEADLINES / WINDOW ))
# a stride of 4k would put the whole window on one kind of deadline
[ $((stride % 4)) -ne 0 ] || stride=$((stride - 1))
say "inserting $ncases cases and $((DEADLINES - WINDOW)) far deadlines"
t=$(now_ms)
q -v ncases="$ncases" -v n="$DEADLINES" -v w="$WINDOW" -v stride="$stride" >/dev/null <<'EOF'
CREATE TABLE h111_bench_dur (priority int, k int, deadline text, dur interval,
                             PRIMARY KEY (priority, k));
INSERT INTO h111_bench_dur VALUES
  (1, 0, 'answer', '20 s'), (1, 1, 'claim', '60 s'), (1, 2, 'act', '3600 s'), (1, 3, 'plan', '7 days'),
  (2, 0, 'answer', '60 s'), (2, 1, 'claim', '300 s'), (2, 2, 'act', '12 h'), (2, 3, 'plan', '7 days');
-- The data is consistent by construction: no per-row foreign key checks.
SET session_replication_role = replica;
INSERT INTO cases (id, opened_at, status, priority, category, category_by, rules, call_id,
                   caller, line, queue, province, operator, offered_at, updated_at)
SELECT c, now() - interval '1 hour', 'open', 2 - c % 2,
       (ARRAY['violence.domestic', 'abuse.sexual', 'violence.school', 'online'])[1 + c % 4],
       'rule', ARRAY['tbench-rule'], 'tbench-' || c,
       '+8491' || lpad((c % 10000000)::text, 7, '0'), '111', 'tu-van', 'Hà Nội', NULL,
       now() - interval '1 hour', now()
  FROM generate_series(1, :ncases) c;
SELECT setval('cases_id_seq', :ncases);
INSERT INTO timers (case_id, deadline, started_at, due_at, warn_at, level, next_at, held)
SELECT s.n / 4 + 1, d.deadline, s.due - d.dur, s.due, NULL, 0, s.due, false
  FROM (SELECT n, now() + interval '1 day'
                 + make_interval(secs => (n::bigint * 2654435761 % 2592000000) / 1000.0) AS due
          FROM generate_series(0, :n - 1) n
         WHERE NOT (n % :stride = 0 AND n / :stride < :w)) s
  JOIN h111_bench_dur d ON d.priority = 2 - (s.n / 4 + 1) % 2 AND d.k = s.n % 4;
RESET session_replication_role;
VACUUM ANALYZE cases;
VACUUM ANALYZE timers;
CHECKPOINT;
EOF
say "    $(( ($(now_ms) - t) / 1000 )) s"

# The window, T0 = LEAD_S seconds from now (the daemon starts right after).
t0_ms=$(( $(now_ms) + LEAD_S * 1000 + 300 ))
say "inserting the window: $WINDOW deadlines, $RATE per second"
q -v ncases="$ncases" -v n="$DEADLINES" -v w="$WINDOW" -v stride="$stride" \
  -v rate="$RATE" -v t0="$t0_ms" <<'EOF'
CREATE TABLE h111_bench_window AS
SELECT i, s.n, s.n / 4 + 1 AS case_id, d.deadline, d.dur,
       to_timestamp(:t0 / 1000.0) + make_interval(secs => i * 1.0 / :rate) AS due_at
  FROM (SELECT i, i * :stride AS n FROM generate_series(0, :w - 1) i) s
  JOIN h111_bench_dur d ON d.priority = 2 - (s.n / 4 + 1) % 2 AND d.k = s.n % 4;
ALTER TABLE h111_bench_window ADD PRIMARY KEY (case_id, deadline);
INSERT INTO timers (case_id, deadline, started_at, due_at, warn_at, level, next_at, held)
SELECT case_id, deadline, due_at - dur, due_at, NULL, 0, due_at, false
  FROM h111_bench_window ORDER BY n;
EOF
ntimers=$(q -c "SELECT count(*) FROM timers WHERE NOT held")

# --- the daemon --------------------------------------------------------------
say "starting hotline111d"
start_ms=$(now_ms)
"$daemon_bin" -c "$conf" >"$tmp/daemon.log" 2>&1 &
dpid=$!
(
	while kill -0 "$dpid" 2>/dev/null; do
		echo "$(now_ms) $(status_kb "$dpid" VmRSS 2>/dev/null)"
		sleep 0.5
	done
) >"$tmp/rss.log" 2>/dev/null &
spid=$!

i=0
until grep -q 'pending deadlines loaded' "$tmp/daemon.log"; do
	kill -0 "$dpid" 2>/dev/null || { cat "$tmp/daemon.log" >&2; fail "hotline111d exited"; }
	grep -q 'cannot load the pending deadlines' "$tmp/daemon.log" &&
		{ cat "$tmp/daemon.log" >&2; fail "hotline111d could not load the deadlines"; }
	i=$((i + 1))
	[ $i -lt 1200 ] || { cat "$tmp/daemon.log" >&2; fail "no deadlines loaded after 120 s"; }
	sleep 0.1
done
loaded_ms=$(log_ms 'pending deadlines loaded')
ready_ms=$(log_ms ' ready: ')
nloaded=$(sed -n 's/.*escalation: \([0-9]*\) pending deadlines loaded.*/\1/p' "$tmp/daemon.log" | head -1)
rss_load=$(status_kb "$dpid" VmRSS)
hwm_load=$(status_kb "$dpid" VmHWM)
cpu_load=$(cpu_s "$dpid")
say "    $nloaded deadlines loaded in $(( loaded_ms - start_ms )) ms; RSS $((rss_load / 1024)) MB, peak $((hwm_load / 1024)) MB"
backend=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'hotline111d'
                  AND (query LIKE '%FROM timers WHERE NOT held%' OR query LIKE '%h111_fire%') LIMIT 1")

window_ms=$(( WINDOW * 1000 / RATE ))
end_ms=$(( t0_ms + window_ms + GRACE_S * 1000 ))
[ "$(now_ms)" -lt "$t0_ms" ] ||
	say "    warning: the load ended $(( $(now_ms) - t0_ms )) ms after the window began"
say "window: $(( (t0_ms - start_ms) )) ms after the start, for $window_ms ms, then $GRACE_S s"
while [ "$(now_ms)" -lt "$t0_ms" ]; do sleep 0.1; done
d0=$(cpu_s "$dpid") b0=$(cpu_s "${backend:-0}") w0=$(now_ms)
while [ "$(now_ms)" -lt "$end_ms" ]; do
	if ! kill -0 "$dpid" 2>/dev/null; then
		tail -5 "$tmp/daemon.log" >&2
		grep -q 'SIGTERM: stopping' "$tmp/daemon.log" &&
			fail "hotline111d was stopped by a SIGTERM from outside this script"
		fail "hotline111d died"
	fi
	sleep 0.2
done
d1=$(cpu_s "$dpid") b1=$(cpu_s "${backend:-0}") w1=$(now_ms)
rss_end=$(status_kb "$dpid" VmRSS)
hwm_end=$(status_kb "$dpid" VmHWM)
kill "$dpid"
wait "$dpid" || fail "hotline111d exited with status $? on SIGTERM"
dpid=
kill "$spid" 2>/dev/null || :
wait "$spid" 2>/dev/null || :
spid=

# --- what fired --------------------------------------------------------------
# the escalation log, line by line: case, deadline, kind, level, late_ms
awk 'function v(k,   m) { if (match($0, "\"" k "\":\"?[^,\"}]*")) {
		m = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3); sub(/^"/, "", m); return m } return "" }
	{ print v("case") "\t" v("deadline") "\t" v("kind") "\t" v("level") "\t" v("late_ms") }' \
	"$tmp/escalations.log" >"$tmp/esclog.tsv"
# the daemon's "escalation N: case C ...: D deadline missed" lines: when it said so
awk '/ hotline111d: warning: escalation [0-9]+: case / {
		split(substr($1, 1, 19), a, /[-T:]/)
		ms = mktime(a[1] " " a[2] " " a[3] " " a[4] " " a[5] " " a[6]) * 1000 + substr($1, 21, 3)
		for (f = 1; f < NF; f++) {
			if ($f == "case") c = $(f + 1)
			if ($(f + 1) == "deadline" && $(f + 2) == "missed,") d = $f
		}
		sub(/:$/, "", c)
		printf "%s\t%s\t%.0f\n", c, d, ms
	}' "$tmp/daemon.log" >"$tmp/said.tsv"
q -v rate="$RATE" <<EOF
CREATE TABLE h111_bench_esclog (case_id bigint, deadline text, kind text, level int, late_ms bigint);
\\copy h111_bench_esclog FROM '$tmp/esclog.tsv'
CREATE TABLE h111_bench_said (case_id bigint, deadline text, said_ms bigint);
\\copy h111_bench_said FROM '$tmp/said.tsv'
EOF

# KEY=VALUE pairs from one row of SQL
stats() { q -F ' ' -c "$1"; }
read -r fired fired_rows dups outside wrong p50 p99 pmax calls bavg bmax <<<"$(stats "
WITH e AS (SELECT e.*, w.i FROM escalations e
             LEFT JOIN h111_bench_window w USING (case_id, deadline)),
     b AS (SELECT count(*) AS n FROM escalations GROUP BY fired_at)
SELECT (SELECT count(DISTINCT (case_id, deadline)) FROM e WHERE i IS NOT NULL),
       (SELECT count(*) FROM e WHERE i IS NOT NULL),
       (SELECT count(*) FROM (SELECT 1 FROM e GROUP BY case_id, deadline, level
                               HAVING count(*) > 1) x),
       (SELECT count(*) FROM e WHERE i IS NULL),
       (SELECT count(*) FROM e WHERE i IS NOT NULL AND (kind <> 'escalation' OR level <> 1)),
       (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late_ms)::numeric, 1) FROM e WHERE i IS NOT NULL),
       (SELECT round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late_ms)::numeric, 1) FROM e WHERE i IS NOT NULL),
       (SELECT coalesce(max(late_ms), 0) FROM e WHERE i IS NOT NULL),
       (SELECT count(*) FROM b), (SELECT round(avg(n), 1) FROM b), (SELECT max(n) FROM b)")"
read -r lfired lrows ldups lp50 lp99 lmax <<<"$(stats "
WITH l AS (SELECT l.* FROM h111_bench_esclog l JOIN h111_bench_window w USING (case_id, deadline))
SELECT (SELECT count(DISTINCT (case_id, deadline)) FROM l), (SELECT count(*) FROM l),
       (SELECT count(*) FROM (SELECT 1 FROM h111_bench_esclog GROUP BY case_id, deadline, level
                               HAVING count(*) > 1) x),
       (SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late_ms)::numeric, 1), 0) FROM l),
       (SELECT coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late_ms)::numeric, 1), 0) FROM l),
       (SELECT coalesce(max(late_ms), 0) FROM l)")"
read -r sn sp50 sp99 smax <<<"$(stats "
WITH s AS (SELECT s.said_ms - (extract(epoch FROM w.due_at) * 1000) AS late
             FROM h111_bench_said s JOIN h111_bench_window w USING (case_id, deadline))
SELECT count(*), coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late)::numeric, 1), 0),
       coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late)::numeric, 1), 0),
       coalesce(round(max(late)::numeric, 1), 0) FROM s")"
# lateness by second of the window: does it drift as the window goes on?
q -F ' ' -c "
SELECT w.i * 1000 / $RATE / 1000 AS s, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late_ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late_ms)::numeric, 1), max(late_ms), count(*)
  FROM escalations e JOIN h111_bench_window w USING (case_id, deadline) GROUP BY 1 ORDER BY 1" \
	>"$tmp/by-second.txt"
rss_max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$tmp/rss.log")

# --- summary -----------------------------------------------------------------
ok=1
[ "$fired" = "$WINDOW" ] && [ "$fired_rows" = "$WINDOW" ] && [ "$dups" = 0 ] &&
	[ "$outside" = 0 ] && [ "$wrong" = 0 ] || ok=0
awk -v n="$DEADLINES" -v ntimers="$ntimers" -v nloaded="$nloaded" -v w="$WINDOW" -v rate="$RATE" \
    -v lead="$(( t0_ms - start_ms ))" -v st_load="$(( loaded_ms - start_ms ))" \
    -v st_ready="$(( ready_ms - start_ms ))" -v rss_load="$rss_load" -v hwm_load="$hwm_load" \
    -v rss_end="$rss_end" -v hwm_end="$hwm_end" -v rss_max="$rss_max" -v cpu_load="$cpu_load" \
    -v dcpu="$(awk -v a="$d0" -v b="$d1" -v t="$(( w1 - w0 ))" 'BEGIN { printf "%.1f", 100000 * (b - a) / t }')" \
    -v bcpu="$(awk -v a="$b0" -v b="$b1" -v t="$(( w1 - w0 ))" 'BEGIN { printf "%.1f", 100000 * (b - a) / t }')" \
    -v fired="$fired" -v fired_rows="$fired_rows" -v dups="$dups" -v outside="$outside" \
    -v wrong="$wrong" -v p50="$p50" -v p99="$p99" -v pmax="$pmax" -v calls="$calls" \
    -v bavg="$bavg" -v bmax="$bmax" -v lfired="$lfired" -v lrows="$lrows" -v ldups="$ldups" \
    -v lp50="$lp50" -v lp99="$lp99" -v lmax="$lmax" -v sn="$sn" -v sp50="$sp50" -v sp99="$sp99" \
    -v smax="$smax" -v extra="${H111_EXTRA_SQL:-}" -v pgv="$(q -c 'SHOW server_version')" \
    -v sb="$(q -c 'SHOW shared_buffers')" -v ncpu="$(nproc)" \
    -v when="$(date -u '+%Y-%m-%d %H:%M UTC')" -v load0="$load0" \
    -v load1="$(cut -d' ' -f1-3 /proc/loadavg)" '
function res(c) { return c ? "met" : "MISSED" }
function row(what, v, goal, r) { printf "%-44s %12s  %-18s %s\n", what, v, goal, r }
BEGIN {
	printf "\nhotline111 timers benchmark, %s: %d CPUs (load average %s before, %s after),\n",
	    when, ncpu, load0, load1
	printf "PostgreSQL %s, shared_buffers %s; %d pending deadlines, %d of them due %d/s\n",
	    pgv, sb, ntimers, w, rate
	printf "from %.1f s after the daemon started\n", lead / 1000
	if (extra != "")
		printf "schema: as migrated, then %s\n", extra
	printf "\n%-44s %12s  %-18s %s\n", "", "measured", "goal", ""
	row("deadlines loaded", nloaded, "= " ntimers, res(nloaded == ntimers))
	row("start-up to \"deadlines loaded\", s", sprintf("%.2f", st_load / 1000), "< 5", res(st_load < 5000))
	row("start-up to \"ready\", s", sprintf("%.2f", st_ready / 1000), "", "")
	row("CPU of the daemon until loaded, s", sprintf("%.2f", cpu_load), "", "")
	row("resident after the load (VmRSS), MB", sprintf("%.1f", rss_load / 1024), "< 200", res(rss_load < 200 * 1024))
	row("peak resident after the load (VmHWM), MB", sprintf("%.1f", hwm_load / 1024), "< 200", res(hwm_load < 200 * 1024))
	row("peak resident (VmHWM at the end), MB", sprintf("%.1f", hwm_end / 1024), "< 200", res(hwm_end < 200 * 1024))
	row("resident at the end (VmRSS), MB", sprintf("%.1f", rss_end / 1024), "", "")
	row("window deadlines fired (escalations)", fired, "= " w, res(fired == w))
	row("  rows / duplicates / outside the window", fired_rows " / " dups " / " outside,
	    w " / 0 / 0", res(fired_rows == w && dups == 0 && outside == 0 && wrong == 0))
	row("lateness p50 (late_ms in escalations), ms", p50, "", "")
	row("lateness p99, ms", p99, "< 100", res(p99 < 100))
	row("lateness max, ms", pmax, "", "")
	row("escalation log: window lines / all / dups", lfired " / " lrows " / " ldups,
	    w " / " w " / 0", res(lfired == w && lrows == w && ldups == 0))
	row("  late_ms p50 / p99 / max, ms", lp50 " / " lp99 " / " lmax, "", "")
	row("delivered (due -> daemon log line) p50, ms", sp50, "", "")
	row("  p99 / max, ms (" sn " lines)", sp99 " / " smax, "< 100 (p99)", res(sp99 < 100))
	row("h111_fire calls that fired / avg / max batch", calls " / " bavg " / " bmax, "", "")
	row("CPU % during the window: daemon / backend", dcpu " / " bcpu, "", "")
}'
echo
echo "lateness by second of the window (s p50 p99 max n), late_ms:"
awk '{ printf "  %s", $0; if (NR % 4 == 0) print ""; else printf " |" } END { print "" }' "$tmp/by-second.txt"
echo "RESULT timers startup_s=$(awk -v v="$(( loaded_ms - start_ms ))" 'BEGIN { printf "%.2f", v / 1000 }')" \
	"rss_mb=$(awk -v v="$rss_load" 'BEGIN { printf "%.1f", v / 1024 }')" \
	"hwm_mb=$(awk -v v="$hwm_end" 'BEGIN { printf "%.1f", v / 1024 }')" \
	"fired=$fired p50_ms=$p50 p99_ms=$p99 max_ms=$pmax"
[ "$ok" = 1 ] || fail "the window did not fire exactly once each: fired $fired distinct," \
	"$fired_rows rows, $dups duplicates, $outside outside the window, $wrong not escalation/1"
