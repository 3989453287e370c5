#!/bin/sh
# intake.sh: how fast hotline111d makes bridge events durable, against the
# ceiling of the same work done by pgbench in the same private PostgreSQL.
#
#   tests/bench/intake.sh            (build first: see below)
#
# In one run, in a fresh temporary directory:
#   - a private PostgreSQL (scripts/pg-sandbox; fsync and synchronous_commit
#     stay on, as pg-sandbox leaves them: an ack means durable), the schema
#     applied by hotline111d --migrate, then hotline111d started (it writes
#     the escalation policy that h111_apply arms deadlines with) and warmed
#     up with 600 events;
#   (f) the floor: pgbench storing the same events' element JSON, 100 rows
#       per multi-row INSERT, into a bare table with the same unique key
#       (event_id) as events: what PostgreSQL takes durably with none of
#       h111_apply's work;
#   (a) pgbench -n -c 1 -M prepared: the daemon's statement (read from
#       src/store.c) with ONE event per transaction (6 per script run: the
#       events of one call);
#   (b) the same with 100 events per statement/transaction;
#   (c) bench_intake at full speed (FULL_EVENTS over FULL_CONNS connections,
#       FULL_WINDOW unacked per connection);
#   (d) bench_intake at a fixed RATE events/s for RATE_SECONDS;
# each after a CHECKPOINT; (a)-(d) once more after COMPARE_SQL, when set,
# replaced h111_apply (e.g. tests/data/intake_reference.sql, the one event
# at a time version: old and new in the same run, marked [new] and [cmp]).
# Then a summary: events/s of each, the ratios of full speed to pgbench-1
# and to the floor, the fixed-rate latencies against the goals, the commit
# (batch) sizes the daemon reached (events sharing a stored_at), the CPU of
# the daemon and of the backend running h111_apply (read from /proc), that
# backend's CPU per event, and the daemon's peak RSS. Every event acked is
# checked to be in the events table, and pgbench's events too.
#
# The events are the same in all four: bench_intake's mix of call.offered,
# call.answered, ticket.created (~300 bytes of Vietnamese), ticket.updated,
# call.ended, ticket.closed, in the element form the daemon sends to
# h111_apply ({"ev":…,"rx":…,"client":…,"triage":…}, the decisions those of
# the rules file for each text); for pgbench the JSON text is assembled in
# SQL from templates, with ids from gen_random_uuid().
#
# The machine's load average is printed with the summary: on a shared
# 2-core machine other work moves these figures, the fixed-rate tail most.
#
# Environment: H111_BUILD (build tree, default build-bench beside the
# sources; build it with
#   mkdir -p build-bench && cd build-bench && ../configure && \
#   make src/hotline111d tests/bench/bench_intake),
# PG_SECONDS (20), FULL_EVENTS (60000), FULL_CONNS (4), FULL_WINDOW (256),
# RATE (2000), RATE_SECONDS (20), H111_RULES (default conf/rules.conf if it
# exists, else a small rules file written here), H111_EXTRA_SQL (a file of
# SQL applied after the migration, e.g. a new h111_apply to try without a
# rebuild; both pgbench and the daemon then use it), COMPARE_SQL (above),
# RESULTS (a file the summary is appended to, with the date, commit,
# machine and load; default doc/perf/RESULTS.md, empty for none), KEEP=1
# keeps the directory.
# Exit status: 0 when every run completed (goals met or not; the summary
# says), 1 when one failed (a nack, a wrong ack, a lost event, a crash).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${H111_BUILD:-build-bench}
case $build in /*) ;; *) build=$top/$build ;; esac
daemon_bin=$build/src/hotline111d
bench_bin=$build/tests/bench/bench_intake
PG_SECONDS=${PG_SECONDS:-20}
FULL_EVENTS=${FULL_EVENTS:-60000}
FULL_CONNS=${FULL_CONNS:-4}
FULL_WINDOW=${FULL_WINDOW:-256}
RATE=${RATE:-2000}
RATE_SECONDS=${RATE_SECONDS:-20}
RESULTS=${RESULTS-$top/doc/perf/RESULTS.md}

for b in "$daemon_bin" "$bench_bin"; do
	[ -x "$b" ] || { echo "intake.sh: no $b; build it: cd $top && mkdir -p build-bench &&" \
		"cd build-bench && ../configure && make src/hotline111d tests/bench/bench_intake" >&2
		exit 1; }
done
command -v pgbench >/dev/null || { echo "intake.sh: pgbench not found (postgresql-client)" >&2; exit 1; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/h111-intake-XXXXXX)
chmod 755 "$tmp" # the server may run as user postgres
dpid=
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill "$dpid" 2>/dev/null || :
		wait "$dpid" 2>/dev/null || :
	fi
	"$top/scripts/pg-sandbox" stop "$tmp/pg" >/dev/null 2>&1 || :
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "== $*" >&2; }
fail() { echo "intake.sh: $*" >&2; exit 1; }

# --- PostgreSQL, schema, daemon config -------------------------------------
say "starting a private PostgreSQL in $tmp/pg"
ci=$("$top/scripts/pg-sandbox" start "$tmp/pg")
q() { psql "$ci" -XAtq -v ON_ERROR_STOP=1 "$@"; }

rules=${H111_RULES:-$top/conf/rules.conf}
if [ ! -f "$rules" ]; then
	rules=$tmp/rules.conf
	cat >"$rules" <<-'EOF'
	# intake.sh: a small rules file (conf/rules.conf does not exist yet)
	categories = (
	  { id = "abuse.sexual";      label = "Xâm hại tình dục"; },
	  { id = "violence.domestic"; label = "Bạo lực gia đình"; },
	  { id = "violence.school";   label = "Bạo lực học đường"; },
	  { id = "drowning";          label = "Đuối nước"; },
	  { id = "trafficking";       label = "Mua bán người"; },
	  { id = "online";            label = "Xâm hại trên mạng"; },
	  { id = "info";              label = "Thông tin"; }
	);
	rules = (
	  { name = "sexual-abuse"; text_any = [ "xâm hại tình dục", "hiếp dâm", "sàm sỡ" ];
	    category = "abuse.sexual"; priority = 2; },
	  { name = "drowning"; text_any = [ "đuối nước", "chết đuối" ]; category = "drowning";
	    priority = 1; },
	  { name = "home-violence"; text_all = [ "đánh" ]; text_any = [ "cha dượng", "mẹ kế" ];
	    category = "violence.domestic"; priority = 2; },
	  { name = "school-violence"; text_any = [ "bắt nạt", "bạo lực học đường" ];
	    category = "violence.school"; priority = 3; },
	  { name = "online-extortion"; text_any = [ "ảnh nhạy cảm", "tung lên mạng" ];
	    category = "online"; priority = 2; },
	  { name = "ivr-trafficking"; ivr = [ "9" ]; category = "trafficking"; priority = 1; },
	  { name = "urgent-queue"; queue = [ "khan-cap" ]; raise = 1; }
	);
	EOF
fi
"$daemon_bin" --check-rules "$rules" >/dev/null || fail "bad rules file $rules"

. "$top/scripts/lib.sh"
h111_private_conf "$tmp" "$ci" "$rules"
conf=$tmp/hotline111d.conf
"$daemon_bin" -c "$conf" --migrate >"$tmp/migrate.log" 2>&1 ||
	{ cat "$tmp/migrate.log" >&2; fail "migration failed"; }
if [ -n "${H111_EXTRA_SQL:-}" ]; then
	say "applying $H111_EXTRA_SQL"
	q -f "$H111_EXTRA_SQL" >/dev/null || fail "$H111_EXTRA_SQL failed"
fi

# Templates for pgbench: the element JSON the daemon would send for each
# event of bench_intake's mix, with @CALL@ and @ID@ to fill in per run. The
# triage decisions are what the rules say about each text (--triage).
q <<'EOF'
CREATE TABLE h111_bench_text (kind text, i int, text text, decision text,
                              PRIMARY KEY (kind, i));
INSERT INTO h111_bench_text (kind, i, text) VALUES
  ('ticket', 1, 'Cháu gái 12 tuổi gọi đến, kể rằng bị người hàng xóm xâm hại tình dục nhiều lần khi bố mẹ đi làm vắng. Cháu rất sợ, không dám nói với ai, đang khóc và xin giúp đỡ. Tư vấn viên đã trấn an và hỏi địa chỉ.'),
  ('ticket', 2, 'Mẹ của một bé trai 9 tuổi phản ánh con bị bạn cùng lớp đánh, bắt nạt ở trường suốt hai tháng, có vết bầm ở tay và lưng. Giáo viên chủ nhiệm chưa xử lý. Gia đình đề nghị hỗ trợ làm việc với nhà trường.'),
  ('ticket', 3, 'Người dân báo có hai em nhỏ tắm ở ao gần nhà, một em bị đuối nước đã được vớt lên, đang đưa đi trạm y tế xã. Cần kết nối ngay với công an và y tế địa phương để hỗ trợ gia đình và các em.'),
  ('ticket', 4, 'Cuộc gọi hỏi thông tin về thủ tục làm giấy khai sinh cho con khi bố mẹ chưa đăng ký kết hôn. Tư vấn viên đã hướng dẫn các bước cần làm, giấy tờ cần mang theo và số điện thoại của UBND phường.'),
  ('ticket', 5, 'Em 15 tuổi kể bị cha dượng đánh đập, chửi mắng mỗi khi say rượu, có lần bị đuổi ra khỏi nhà lúc nửa đêm. Em muốn đến ở nhà bà ngoại nhưng sợ mẹ buồn. Cần đánh giá mức độ an toàn của em.'),
  ('ticket', 6, 'Một người lạ trên mạng xã hội dụ dỗ em gái 13 tuổi gửi ảnh nhạy cảm và đe dọa sẽ tung lên mạng nếu em không gửi thêm. Gia đình đã chụp lại tin nhắn và muốn trình báo công an.'),
  ('note', 1, 'Đã liên hệ cán bộ bảo vệ trẻ em cấp xã, hẹn đến thăm gia đình trong ngày mai.'),
  ('note', 2, 'Gọi lại cho người báo tin, cháu đã an toàn, đang ở với bà ngoại.'),
  ('note', 3, 'Đã chuyển thông tin cho công an huyện và phòng Lao động - Thương binh và Xã hội.');
EOF
q -c "SELECT text FROM h111_bench_text ORDER BY kind DESC, i" >"$tmp/texts"
(
	set --
	while IFS= read -r t; do set -- "$@" "$t"; done <"$tmp/texts"
	"$daemon_bin" --triage --json --rules "$rules" "$@"
) >"$tmp/decisions" || fail "hotline111d --triage failed"
[ "$(wc -l <"$tmp/decisions")" -eq 9 ] || fail "--triage: expected 9 decisions"
q -c "CREATE TABLE h111_bench_dec (n serial, decision text)" \
  -c "\\copy h111_bench_dec (decision) FROM '$tmp/decisions'" \
  -c "UPDATE h111_bench_text t SET decision = (d.decision::jsonb - 'text')::text
        FROM (SELECT kind, i, row_number() OVER (ORDER BY kind DESC, i) AS n
                FROM h111_bench_text) o JOIN h111_bench_dec d USING (n)
       WHERE (t.kind, t.i) = (o.kind, o.i)"
# A call with a caller number comes with a variant per repeat_caller
# threshold (src/cases.c), which h111_apply chooses by counting the caller's
# earlier cases: the call.offered template carries one like the shipped rule.
repeat=$(sed -n 's/.*repeat_caller *= *{ *cases *= *\([0-9]*\); *days *= *\([0-9]*\);.*/\1 \2/p' "$rules" |
	head -1)
offered='{"priority":4,"category":null,"rules":[],"tags":[]}'
if [ -n "$repeat" ]; then
	set -- $repeat
	offered='{"priority":4,"category":null,"rules":[],"tags":[],"repeat":{"days":'$2',"variants":[{"min":'$1',"decision":{"priority":3,"category":null,"rules":["repeat-caller"],"tags":["repeat-caller"]}}]}}'
fi
q -c "CREATE TABLE h111_bench_offered (decision text)" -c "INSERT INTO h111_bench_offered VALUES ('$offered')"
q <<'EOF'
CREATE FUNCTION pg_temp.el(v int, step int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    extras text[] := ARRAY[
      ',"category":"abuse.sexual","child_age":12,"child_gender":"nữ"',
      ',"category":"violence.school","child_age":9,"child_gender":"nam"',
      ',"child_age":7,"child_gender":"nam"',
      ',"category":"info"',
      ',"child_age":15,"child_gender":"nữ"',
      ',"category":"online","child_age":13,"child_gender":"nữ"'];
    provinces text[] := ARRAY['Hà Nội', 'TP. Hồ Chí Minh', 'Thanh Hóa', 'Nghệ An', 'Đồng Nai',
      'Hải Phòng'];
    ops text[] := ARRAY['lan', 'minh', 'huong', 'tuan', 'thu', 'nam'];
    ts text := to_char(now() AT TIME ZONE 'Asia/Ho_Chi_Minh',
                       'YYYY-MM-DD"T"HH24:MI:SS.MS"+07:00"');
    rx text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    i int := v + 1;
    ev text;
    dec text;
    tk h111_bench_text;
    nt h111_bench_text;
BEGIN
    SELECT * INTO tk FROM h111_bench_text b WHERE b.kind = 'ticket' AND b.i = v + 1;
    SELECT * INTO nt FROM h111_bench_text b WHERE b.kind = 'note' AND b.i = 1 + v % 3;
    IF step = 0 THEN
        ev := format('"type":"call.offered","ts":"%s","call_id":"c@CALL@","caller":"+8491234567%s","line":"111","queue":"tu-van","ivr":["2"],"province":"%s","lang":"vi"',
                     ts, v, provinces[i]);
        dec := (SELECT decision FROM h111_bench_offered);
    ELSIF step = 1 THEN
        ev := format('"type":"call.answered","ts":"%s","call_id":"c@CALL@","operator":"%s"', ts, ops[i]);
    ELSIF step = 2 THEN
        ev := format('"type":"ticket.created","ts":"%s","ticket_id":"t@CALL@","call_id":"c@CALL@","operator":"%s","text":"%s"%s,"province":"%s"',
                     ts, ops[i], tk.text, extras[i], provinces[i]);
        dec := tk.decision;
    ELSIF step = 3 THEN
        ev := format('"type":"ticket.updated","ts":"%s","ticket_id":"t@CALL@","operator":"%s","text":"%s","tags":["followup"]',
                     ts, ops[i], nt.text);
        dec := nt.decision;
    ELSIF step = 4 THEN
        ev := format('"type":"call.ended","ts":"%s","call_id":"c@CALL@","duration_s":%s,"cause":"normal_clearing"',
                     ts, 30 + 97 * v);
    ELSE
        ev := format('"type":"ticket.closed","ts":"%s","ticket_id":"t@CALL@","outcome":"%s"%s',
                     ts, CASE WHEN v % 2 = 0 THEN 'referred' ELSE 'counselled' END,
                     CASE WHEN v % 2 = 0 THEN ',"referred_to":"Công an huyện"' ELSE '' END);
    END IF;
    RETURN format('{"ev":{"id":"@ID@",%s},"rx":"%s","client":"pgbench"%s}', ev, rx,
                  CASE WHEN dec IS NULL THEN '' ELSE ',"triage":' || dec END);
END $$;
-- Bench only, not part of the schema: k = 6 * call + step, 100 events.
CREATE TABLE h111_bench_tmpl (k int PRIMARY KEY, el text NOT NULL);
INSERT INTO h111_bench_tmpl SELECT k, pg_temp.el((k / 6) % 6, k % 6) FROM generate_series(0, 99) k;
ANALYZE h111_bench_tmpl;
EOF
[ "$(q -c "SELECT count(*) FROM h111_bench_tmpl WHERE el::jsonb IS NOT NULL")" = 100 ] ||
	fail "bad pgbench templates"

# The daemon's statement, word for word: read from src/store.c (apply_sql),
# with $1 the batch and $2 the default priority.
apply=$(awk '/apply_sql\[\] =/ { f = 1; next } f { print; if (/;[[:space:]]*$/) exit }' \
	"$top/src/store.c" | sed 's/^[^"]*"//; s/"[^"]*$//' | tr -d '\n')
case $apply in
*'h111_apply($1::jsonb, $2::int)'*) ;;
*) fail "cannot read the statement (apply_sql) from src/store.c: '$apply'" ;;
esac
stmt() { # BATCH_EXPRESSION: the statement with $1 and $2 filled in
	pre=${apply%%'$1::jsonb'*} post=${apply#*'$1::jsonb'}
	printf '%s(%s)::jsonb%s4::int%s\n' "$pre" "$1" "${post%%'$2::int'*}" "${post#*'$2::int'}"
}
{
	echo '\set call random(1, 1000000000000)'
	echo '\set v random(0, 5)'
	for s in 0 1 2 3 4 5; do
		echo "$(stmt "SELECT '[' || replace(replace(el, '@ID@', 'pgb1-' || gen_random_uuid()), '@CALL@', 'pgb1-' || :call) || ']' FROM h111_bench_tmpl WHERE k = 6 * :v + $s");"
	done
} >"$tmp/one.sql"
{
	echo '\set call random(1, 50000000000) * 20'
	echo "$(stmt "SELECT '[' || string_agg(replace(replace(el, '@ID@', 'pgb100-' || gen_random_uuid()), '@CALL@', 'pgb100-' || (:call::bigint + k / 6)), ',' ORDER BY k) || ']' FROM h111_bench_tmpl");"
} >"$tmp/hundred.sql"
[ "$(grep -c 'h111_apply((SELECT' "$tmp/one.sql" "$tmp/hundred.sql" | cut -d: -f2 | tr '\n' ' ')" = "6 1 " ] ||
	fail "could not write the pgbench scripts"

# --- the daemon ------------------------------------------------------------
# Started before pgbench: it writes the escalation policy that h111_apply
# arms deadlines with (pgbench then does the same work), and listens as it
# does in service. A warm-up of 600 events, then its backends are known.
say "starting hotline111d"
"$daemon_bin" -c "$conf" >"$tmp/daemon.log" 2>&1 &
dpid=$!
i=0
until grep -q 'database: connected' "$tmp/daemon.log" && grep -q ' ready' "$tmp/daemon.log"; do
	kill -0 "$dpid" 2>/dev/null || { cat "$tmp/daemon.log" >&2; fail "hotline111d exited"; }
	i=$((i + 1))
	[ $i -lt 300 ] || { cat "$tmp/daemon.log" >&2; fail "hotline111d not ready after 30 s"; }
	sleep 0.1
done
"$bench_bin" -S "$tmp/bridge.sock" --prefix "warm-$$" --client bench -n 600 -c 1 -w 16 \
	>"$tmp/warm.out" 2>&1 || { cat "$tmp/warm.out" "$tmp/daemon.log" >&2; fail "warm-up failed"; }
# the connection that runs h111_apply, and the daemon's others
backend=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'hotline111d'
    AND query LIKE '%h111_apply%' LIMIT 1")
[ -n "$backend" ] || fail "no PostgreSQL backend running h111_apply for hotline111d"
others=$(q -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
    WHERE application_name = 'hotline111d' AND pid <> $backend")

# CPU seconds (user + system) of processes, from /proc; 0 when gone.
cpu_s() {
	for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || :; done |
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); s += $12 + $13 } END { print s / hz }'
}
now_s() { date +%s.%N; }

# pgbench -f SCRIPT: prints "TPS LATENCY_MS TRANSACTIONS" and the CPU % of
# its backend, of the daemon and of the daemon's backends, read from /proc
# until the pgbench backend exits (to within 0.1 s).
run_pgbench() {
	q -c CHECKPOINT
	pgbench -n -c 1 -T "$PG_SECONDS" -M prepared -f "$1" "$ci" >"$2" 2>&1 &
	pgb=$!
	bpid= c0= c1= d0= d1= o0= o1= t0= t1=
	while kill -0 "$pgb" 2>/dev/null; do
		if [ -z "$bpid" ]; then
			bpid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'
			    AND state <> 'idle' LIMIT 1")
			[ -z "$bpid" ] ||
				{ c0=$(cpu_s "$bpid") d0=$(cpu_s "$dpid") o0=$(cpu_s $backend $others) t0=$(now_s); }
		elif [ -e "/proc/$bpid" ]; then
			c=$(cpu_s "$bpid") d=$(cpu_s "$dpid") o=$(cpu_s $backend $others) t=$(now_s)
			[ -e "/proc/$bpid" ] && { c1=$c d1=$d o1=$o t1=$t; }
		fi
		sleep 0.1
	done
	wait "$pgb" || { cat "$2" >&2; fail "pgbench $1 failed"; }
	grep -q 'number of failed transactions: 0 ' "$2" || { cat "$2" >&2; fail "pgbench $1: failures"; }
	[ -n "$t1" ] || fail "pgbench $1: could not follow its backend"
	awk -v c="$c0 $c1" -v d="$d0 $d1" -v o="$o0 $o1" -v t="$t0 $t1" '
	     function pct(x, a) { split(x, a, " "); split(t, tt, " "); return 100 * (a[2] - a[1]) / (tt[2] - tt[1]) }
	     /^tps = / { tps = $3 } /^latency average/ { lat = $4 }
	     /transactions actually processed/ { n = $NF }
	     END { printf "%s %s %s %.0f %.0f %.0f\n", tps, lat, n, pct(c), pct(d), pct(o) }' "$2"
}

# Per run: CPU share of the daemon and of its backend, and commit sizes.
# Every event of one transaction has the same stored_at (now()).
run_bench() { # NAME PREFIX ARGS...
	name=$1 prefix=$2
	shift 2
	q -c CHECKPOINT
	d0=$(cpu_s "$dpid") b0=$(cpu_s "$backend") o0=$(cpu_s $others) t0=$(now_s)
	"$bench_bin" -S "$tmp/bridge.sock" --prefix "$prefix" --client bench "$@" \
		>"$tmp/$name.out" 2>&1 || { cat "$tmp/$name.out" >&2; tail -20 "$tmp/daemon.log" >&2
		fail "bench_intake ($name) failed"; }
	d1=$(cpu_s "$dpid") b1=$(cpu_s "$backend") o1=$(cpu_s $others) t1=$(now_s)
	cat "$tmp/$name.out" >&2
	kill -0 "$dpid" 2>/dev/null || fail "hotline111d died during $name"
	awk -v d0="$d0" -v d1="$d1" -v b0="$b0" -v b1="$b1" -v o0="$o0" -v o1="$o1" \
	    -v t0="$t0" -v t1="$t1" 'BEGIN { printf "daemon_cpu=%.0f backend_cpu=%.0f others_cpu=%.0f\n",
		100 * (d1 - d0) / (t1 - t0), 100 * (b1 - b0) / (t1 - t0), 100 * (o1 - o0) / (t1 - t0) }' \
		>>"$tmp/$name.out"
	q -F ' ' -c "SELECT 'stored=' || sum(n), 'commits=' || count(*),
	    'batch_avg=' || round(avg(n), 1), 'batch_p50=' || percentile_disc(0.5) WITHIN GROUP (ORDER BY n),
	    'batch_max=' || max(n)
	  FROM (SELECT count(*) AS n FROM events WHERE event_id LIKE '$prefix-%' GROUP BY stored_at) b" \
		>>"$tmp/$name.out"
}
# KEY=VALUE from a run's output
val() { grep -o "\b$2=[^ ]*" "$tmp/$1.out" | tail -1 | cut -d= -f2; }

# The floor: what PostgreSQL takes durably with none of the work, the same
# events' element JSON stored 100 rows per multi-row INSERT, one client,
# into a bare table with the same unique key as events.
q -c "CREATE TABLE h111_bench_floor (event_id text PRIMARY KEY, body jsonb NOT NULL)"
{
	echo '\set call random(1, 50000000000) * 20'
	echo "INSERT INTO h111_bench_floor (event_id, body) SELECT x.el->'ev'->>'id', x.el FROM (SELECT replace(replace(el, '@ID@', 'floor-' || gen_random_uuid()), '@CALL@', 'floor-' || (:call::bigint + k / 6))::jsonb AS el FROM h111_bench_tmpl) x;"
} >"$tmp/floor.sql"

# pgbench NAME SCRIPT EVENTS_PER_TRANSACTION: its figures as KEY=VALUE in
# NAME.out, checked against what it stored (TABLE, id LIKE PATTERN).
pg_run() {
	name=$1 script=$2 per=$3 table=$4 like=$5
	r=$(run_pgbench "$script" "$tmp/$name.pgbench")
	set -- $r
	stored=$(q -c "SELECT count(*) FROM $table WHERE event_id LIKE '$like'")
	[ "$stored" -ge $(($3 * per)) ] && [ "$stored" -lt $((($3 + 1) * per)) ] ||
		fail "pgbench ($name): $3 transactions of $per events, but $stored events stored"
	echo "events=$stored seconds=$PG_SECONDS eps=$(awk -v t="$1" -v p="$per" 'BEGIN { printf "%.0f", t * p }')" \
	    "lat_ms=$(awk -v l="$2" -v p="$per" 'BEGIN { printf "%.2f", p == 6 ? l / 6 : l }')" \
	    "backend_cpu=$4 daemon_cpu=$5 others_cpu=$6 per=$per" >"$tmp/$name.out"
	say "    $(val "$name" eps) events/s"
}

# One set of runs (a)-(d) of h111_apply as the database has it now, TAG
# naming the set and its events' ids.
runs() {
	tag=$1
	sed "s/pgb1-/pgb1-$tag-/g" "$tmp/one.sql" >"$tmp/one-$tag.sql"
	sed "s/pgb100-/pgb100-$tag-/g" "$tmp/hundred.sql" >"$tmp/hundred-$tag.sql"
	say "[$tag] (a) pgbench: h111_apply, 1 event per transaction, 1 client, ${PG_SECONDS} s"
	pg_run "pg1-$tag" "$tmp/one-$tag.sql" 6 events "pgb1-$tag-%"
	say "[$tag] (b) pgbench: h111_apply, 100 events per transaction, 1 client, ${PG_SECONDS} s"
	pg_run "pg100-$tag" "$tmp/hundred-$tag.sql" 100 events "pgb100-$tag-%"
	say "[$tag] (c) hotline111d at full speed: $FULL_EVENTS events, $FULL_CONNS connections, window $FULL_WINDOW"
	run_bench "full-$tag" "full-$tag-$$" -n "$FULL_EVENTS" -c "$FULL_CONNS" -w "$FULL_WINDOW"
	say "[$tag] (d) hotline111d at a fixed $RATE events/s for $RATE_SECONDS s"
	run_bench "rate-$tag" "rate-$tag-$$" -r "$RATE" -d "$RATE_SECONDS" -c 4
	for r in "full-$tag" "rate-$tag"; do
		[ "$(val "$r" stored)" = "$(val "$r" events)" ] ||
			fail "$r: $(val "$r" events) events acked but $(val "$r" stored) stored"
	done
}

say "(f) pgbench, the floor: 100 events per multi-row INSERT into a bare table, ${PG_SECONDS} s"
pg_run floor "$tmp/floor.sql" 100 h111_bench_floor "floor-%"
tags=new
runs new
if [ -n "${COMPARE_SQL:-}" ]; then
	say "applying $COMPARE_SQL (the daemon's connection plans it again)"
	q -f "$COMPARE_SQL" >/dev/null || fail "$COMPARE_SQL failed"
	tags="new cmp"
	runs cmp
fi

hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$dpid/status")
kill "$dpid"
wait "$dpid" || fail "hotline111d exited with status $? on SIGTERM"
dpid=

# --- summary ---------------------------------------------------------------
row() { # LABEL NAME: one line of the table from NAME.out
	awk -v label="$1" -v f="$(cat "$tmp/$2.out" | tr '\n' ' ')" 'BEGIN {
		n = split(f, kv, " ")
		for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
		if ("per" in v) { per = v["per"]; p50 = p90 = p99 = mx = "-" }
		else { per = sprintf("%.0f/%d", v["batch_avg"], v["batch_max"])
		       p50 = sprintf("%.2f", v["p50_ms"]); p90 = sprintf("%.2f", v["p90_ms"])
		       p99 = sprintf("%.2f", v["p99_ms"]); mx = sprintf("%.2f", v["max_ms"]) }
		printf "%-46s %7d %6.1f %8d %7s %7s %7s %7s %9s %12s %8.0f\n", label, v["events"],
		    v["seconds"], v["eps"], p50, p90, p99, mx, per,
		    v["daemon_cpu"] "/" v["backend_cpu"] "/" v["others_cpu"],
		    (v["eps"] > 0 ? v["backend_cpu"] * 1e4 / v["eps"] : 0) }'
}
ratio() { awk -v a="$(val "$1" eps)" -v b="$(val "$2" eps)" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
summary() {
	echo
	echo "hotline111 intake benchmark ($rev), $when: $(nproc) CPUs ($cpu), load average" \
	    "$load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after;"
	echo "PostgreSQL $(q -c 'SHOW server_version'), synchronous_commit=$(q -c 'SHOW synchronous_commit')," \
	    "fsync=$(q -c 'SHOW fsync'); uptime: $(uptime)"
	[ -z "${H111_EXTRA_SQL:-}" ] || echo "schema: as migrated, then $H111_EXTRA_SQL"
	[ -z "${COMPARE_SQL:-}" ] || echo "cmp: the same runs after $COMPARE_SQL replaced h111_apply"
	echo
	printf "%-46s %7s %6s %8s %7s %7s %7s %7s %9s %12s %8s\n" run events s events/s "p50 ms" \
	    "p90 ms" "p99 ms" "max ms" events/ "CPU %" apply
	printf "%-46s %7s %6s %8s %7s %7s %7s %7s %9s %12s %8s\n" "" "" "" "" "" "" "" "" commit \
	    d/apply/o us/ev
	row "(f) floor: pgbench, INSERT of 100, bare table" floor
	for t in $tags; do
		row "[$t] (a) pgbench, 1 event/transaction" "pg1-$t"
		row "[$t] (b) pgbench, 100 events/transaction" "pg100-$t"
		row "[$t] (c) hotline111d, full speed, ${FULL_CONNS}x$FULL_WINDOW" "full-$t"
		row "[$t] (d) hotline111d, fixed $RATE events/s" "rate-$t"
	done
	echo "events/commit: average/max; CPU %: d = hotline111d, apply = the backend running"
	echo "h111_apply (pgbench's or the daemon's; the floor's: its INSERT), o = the daemon's other"
	echo "backends; apply us/ev = that backend's CPU per event. pgbench latency: per event in (a),"
	echo "per transaction in (b) and (f)."
	for t in $tags; do
		f=full-$t
		echo
		echo "[$t] full speed vs pgbench-1:   $(ratio "$f" "pg1-$t") x  (goal >= 10)"
		echo "[$t] full speed vs the floor:   $(ratio "$f" floor) x  (goal >= 0.3)"
		echo "[$t] full speed vs pgbench-100: $(ratio "$f" "pg100-$t") x"
		awk -v t="$t" -v c="$(val "$f" backend_cpu)" -v e="$(val "$f" eps)" 'BEGIN {
		    printf "[%s] backend CPU at full speed: %.0f us per event (goal <= 60)\n", t,
		        (e > 0 ? c * 1e4 / e : 0) }'
		echo "[$t] fixed $RATE events/s: ack p99 $(val "rate-$t" p99_ms) ms (goal < 5 ms)," \
		    "max $(val "rate-$t" max_ms) ms, $(val "rate-$t" eps) events/s achieved"
	done
	echo "hotline111d peak RSS (VmHWM): $(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }') MB"
}
rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')
when=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
summary >"$tmp/summary"
cat "$tmp/summary"
if [ -n "$RESULTS" ]; then
	{ echo; echo "## $when, $rev"; echo; echo '```'; sed 1d "$tmp/summary"; echo '```'; } >>"$RESULTS"
	say "appended to $RESULTS"
fi
