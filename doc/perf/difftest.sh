#!/bin/sh
# difftest2.sh SEED: batches through the current h111_apply (db e1) and a proposal $V (db e2)
set -eu
cd /tmp/bench-intake-dev
H="host=$PWD/pg user=hotline111"
for d in e1 e2; do
	psql "$H dbname=postgres" -Xq -c "DROP DATABASE IF EXISTS $d" -c "CREATE DATABASE $d TEMPLATE curbase" 2>/dev/null
done
psql "$H dbname=e2" -Xq -v ON_ERROR_STOP=1 -f $V
python3 gen_batches.py "$1" ${MAXB:-40} ${NB:-60} > batches.txt
: > out.e1; : > out.e2
while IFS= read -r b; do
	for d in e1 e2; do
		printf "LISTEN hotline111;\nSELECT idx, case_id, priority, category, to_jsonb(rules), dup, next_at FROM h111_apply(:'b'::jsonb, 4);\n" |
			psql "$H dbname=$d" -XAtq -v ON_ERROR_STOP=1 -v b="$b" >> out.$d 2>&1 || echo "ERROR in $d" >> out.$d
	done
	echo "--" | tee -a out.e1 >> out.e2
done < batches.txt
for d in e1 e2; do
	psql "$H dbname=$d" -XAtq -c "SELECT c.id, opened_at, status, priority, category, category_by, rules, ARRAY(SELECT g FROM unnest(tags) g ORDER BY g) AS tags, call_id, caller, line, queue, ivr, lang, province, district, child_age, child_gender, operator, offered_at, answered_at, abandoned_at, wait_s, transferred_to, ended_at, duration_s, end_cause, outcome, referred_to, closed_at, referred_at, plan_at, closed_auto, held_at, held_s FROM cases c ORDER BY id" \
	  -c "SELECT * FROM tickets ORDER BY ticket_id" \
	  -c "SELECT id, case_id, ticket_id, at, author, text FROM notes ORDER BY id" \
	  -c "SELECT event_id, type, ts, received_at, client, case_id, priority, category, rules, body FROM events ORDER BY event_id" \
	  -c "SELECT id, case_id, event_id, priority_before, priority_after, category_before, category_after, rules FROM triage ORDER BY id" \
	  -c "SELECT id, actor, action, case_id, before, after FROM audit ORDER BY id" \
	  -c "SELECT case_id, deadline, started_at, due_at, warn_at, level, next_at, held FROM timers ORDER BY case_id, deadline" > dump.$d
done
python3 - <<'PY'
import re
# rows equal but next_at; next_at of v2 = v1's next_at of the case's last non-dup row in the batch;
# notifications equal (payloads, in order)
def batches(f):
    out, cur, notes = [], [], []
    for line in open(f):
        line = line.rstrip("\n")
        if line == "--":
            out.append((cur, notes)); cur = []; notes = []
        elif line.startswith("Asynchronous"):
            notes.append(re.sub(r"with PID \d+", "", line))
        else:
            cur.append(line.split("|"))
    return out
a, b = batches("out.e1"), batches("out.e2")
assert len(a) == len(b), (len(a), len(b))
bad = 0; nn = 0
for (x, xn), (y, yn) in zip(a, b):
    nn += len(xn)
    if xn != yn: bad += 1; print("notifications differ", xn[:2], yn[:2])
    if len(x) != len(y): bad += 1; print("len", x, y); continue
    last = {}
    for r in x:
        if r[5] == "f": last[r[1]] = r[6]
    for r, s in zip(x, y):
        if r[:6] != s[:6]: bad += 1; print("row", r, s)
        elif r[5] == "f" and s[6] != last[r[1]]: bad += 1; print("next_at", r, s, last[r[1]])
print("rows: %d batches, %d notifications, %d differences" % (len(a), nn, bad))
PY
cmp dump.e1 dump.e2 && echo "tables: SAME"
