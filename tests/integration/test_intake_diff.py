"""h111_apply, set-based (src/sql/functions/intake.sql), against the one
event at a time version it replaced (tests/data/intake_reference.sql): the
same random batches through both, each in a database today's daemon
migrated, with the same escalation policy; between batches h111_fire
escalates what is due, so that timers that have escalated are stopped,
tightened and restarted too. Every returned row (next_at: the case's after
the batch, which is the reference's at the case's last event), every
notification (but its time stamp) and every table must be equal.

In `make check`: one fixed seed, a few hundred events. More with
tests/bench/difftest.sh, or H111_DIFF_SEEDS ("1 2 3"), H111_DIFF_BATCHES
(batches per seed), H111_DIFF_MAX (events per batch at most)."""
import datetime
import json
import os
import random
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, TOP, Daemon, Postgres  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("H111_DIFF_SEEDS", "14").split()]
BATCHES = int(os.environ.get("H111_DIFF_BATCHES", "20"))
MAX_BATCH = int(os.environ.get("H111_DIFF_MAX", "40"))
REFERENCE = os.path.join(TOP, "tests", "data", "intake_reference.sql")

H = 3600
# Durations chosen so that, for events three hours old, every warning and
# deadline is at least 20 minutes from now (a run takes seconds): some
# warnings are due, no deadline is. Events of July are long overdue. A
# repeat of ten years keeps an escalated timer's next moment off the clock.
POLICY = {
    "p": [{"answer": {"s": 4 * H}, "claim": {"s": 5 * H}, "act": {"s": 7 * H}, "plan": {"wd": 5}},
          {"answer": {"s": 5 * H}, "claim": {"s": 7 * H}, "act": {"s": 9 * H}, "plan": {"wd": 3}},
          {"answer": {"s": 7 * H}, "claim": {"s": 9 * H}, "act": {"s": 9 * H}},
          {"answer": {"s": 9 * H}, "claim": {"s": 9 * H}, "act": {"s": 9 * H}}],
    "warn": 0.5, "repeat": 315360000, "levels": ["supervisor", "manager"],
    "weekend": [6, 7], "holidays": ["2026-09-02", "2026-12-04"], "tz": "Asia/Ho_Chi_Minh"}

CATS = ["abuse.sexual", "drowning", "online", "info", "violence.school", None]
RULES = ["r-a", "r-b", "r-c", "r-d"]
TAGS = ["t1", "t2", "plan"]
KINDS = ["call.offered", "call.answered", "call.abandoned", "call.transferred", "call.ended",
         "ticket.created", "ticket.updated", "ticket.closed"]


class Batches:
    """Random batches in the daemon's element form: resends (from earlier
    batches and within one), calls and tickets in any order, operator
    categories, answers, decisions with rules, why, a model's suggestion and
    repeat-caller variants, plans, referrals, closes, silent calls that close
    themselves and tickets that reopen them, and now and then an event the
    database refuses (the whole batch then fails in both)."""

    def __init__(self, seed, now):
        self.r = random.Random(seed)
        self.now = now
        self.sent = []
        self.n = 0

    def decision(self):
        r = self.r
        t = {"priority": r.randint(1, 4), "category": r.choice(CATS),
             "rules": r.sample(RULES, r.randint(0, 2)), "tags": r.sample(TAGS, r.randint(0, 2))}
        if t["rules"] and r.random() < 0.5:
            t["why"] = {x: "lời %d" % self.n for x in t["rules"]}
        if r.random() < 0.2:
            t["model"] = {"category": r.choice(CATS[:-1]), "p": r.random()}
        return t

    def ts(self):
        r = self.r
        if r.random() < 0.4:
            t = self.now - datetime.timedelta(hours=3, seconds=r.randint(-600, 600))
            return t.isoformat(timespec="milliseconds")
        return "2026-07-04T18:%02d:%02d+07:00" % (r.randint(0, 59), r.randint(0, 59))

    def event(self):
        r = self.r
        self.n += 1
        kind = r.choice(KINDS)
        ev = {"id": "e%d" % self.n, "type": kind}
        if r.random() < 0.8:
            ev["ts"] = self.ts()
        call, ticket = "c%d" % r.randint(1, 30), "t%d" % r.randint(1, 30)
        if kind.startswith("call."):
            ev["call_id"] = call
        else:
            ev["ticket_id"] = ticket
            if r.random() < 0.5:
                ev["call_id"] = call
        self.fields(ev, kind)
        el = {"ev": ev, "rx": "2026-07-04T11:00:00.%06dZ" % self.n}
        if r.random() < 0.8:
            el["client"] = "pbx"
        # a silent call: no decision, so it stays P4 and closes itself
        if r.random() < 0.55 and not (kind.startswith("call.") and call in ("c1", "c2", "c3")):
            el["triage"] = self.decision()
            if kind == "call.offered" and r.random() < 0.7:
                el["triage"]["repeat"] = {"days": r.choice([1, 30]), "variants": [
                    {"min": 1, "decision": self.decision()},
                    {"min": 3, "decision": self.decision()}][:r.randint(1, 2)]}
        return el

    def fields(self, ev, kind):
        r = self.r
        if kind == "call.offered":
            for k, v in [("caller", "+8490%07d" % r.randint(0, 5)), ("line", "111"),
                         ("queue", "q"), ("province", "Hà Nội"), ("district", "Ba Đình"),
                         ("lang", "vi")]:
                if r.random() < 0.6:
                    ev[k] = v
            if r.random() < 0.6:
                ev["ivr"] = r.sample(["1", "2", "3"], r.randint(0, 2))
        elif kind == "call.answered":
            ev["operator"] = r.choice(["lan", "minh"])
        elif kind == "call.abandoned":
            if r.random() < 0.5:
                ev["wait_s"] = r.randint(0, 100)
        elif kind == "call.transferred":
            ev["to"] = "x%d" % r.randint(1, 3)
        elif kind == "call.ended":
            if r.random() < 0.5:
                ev["duration_s"] = r.random() * 100
            if r.random() < 0.5:
                ev["cause"] = "normal"
        elif kind in ("ticket.created", "ticket.updated"):
            for k, v in [("operator", r.choice(["lan", "minh"])), ("text", "văn bản %d" % self.n),
                         ("category", r.choice(CATS[:-1])), ("child_age", r.randint(0, 17)),
                         ("child_gender", "nữ"), ("province", "Huế"), ("district", "d"),
                         ("tags", r.sample(TAGS, r.randint(0, 3))),
                         ("referred_to", "police"),
                         ("answers", {"danger_now": r.choice(["yes", "no"]),
                                      "child_age": r.randint(1, 17)})]:
                if r.random() < 0.35:
                    ev[k] = v
            if r.random() < 0.005:
                ev["child_age"] = "mười"        # refused: 22P02
        else:
            ev["outcome"] = r.choice(["referred", "counselled", "resolved"])
            if r.random() < 0.005:
                ev["outcome"] = "forgotten"     # refused by the domain: 23514
            if r.random() < 0.5:
                ev["referred_to"] = "police"
            if r.random() < 0.5:
                ev["text"] = "đóng %d" % self.n
            if r.random() < 0.3:
                ev["tags"] = r.sample(TAGS, r.randint(1, 2))

    def crafted(self):
        """The first four batches: a silent call whose deadlines escalate
        (a fire follows the third), then ends, closing itself, and is
        reopened by its first ticket in the same batch: its timers stop,
        then start over."""
        def el(id, kind, **f):
            return {"ev": {"id": id, "type": kind, "ts": "2026-07-04T09:00:00+07:00", **f},
                    "rx": "2026-07-04T02:00:00Z", "client": "pbx"}
        return [[el("s-1", "call.offered", call_id="silent")],
                [el("s-2", "call.answered", call_id="other", operator="lan")],
                [el("s-3", "call.transferred", call_id="other", to="x1")],
                [el("s-4", "call.ended", call_id="silent"),
                 el("s-5", "ticket.created", ticket_id="silent-t", call_id="silent", text="gọi lại")]]

    def batch(self):
        out = []
        for _ in range(self.r.randint(1, MAX_BATCH)):
            if self.sent and self.r.random() < 0.05:
                out.append(self.r.choice(self.sent))      # a resend
            elif out and self.r.random() < 0.03:
                out.append(self.r.choice(out))            # twice in one batch
            else:
                el = self.event()
                self.sent.append(el)
                out.append(el)
        return out


# Each database's view of the run: rows as JSON, errors as their SQLSTATE.
HELPER = r"""
CREATE FUNCTION diff_apply(b jsonb) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
    RETURN QUERY SELECT to_jsonb(a)::text FROM h111_apply(b, 4) a;
EXCEPTION WHEN OTHERS THEN
    RETURN NEXT 'ERROR ' || SQLSTATE;
END $f$;
"""

DUMP = [
    """SELECT c.id, opened_at, status, priority, category, category_by, rules,
              ARRAY(SELECT g FROM unnest(tags) g ORDER BY g) AS tags, call_id, caller, line,
              queue, ivr, lang, province, district, child_age, child_gender, operator,
              offered_at, answered_at, abandoned_at, wait_s, transferred_to, ended_at,
              duration_s, end_cause, outcome, referred_to, closed_at, referred_at, plan_at,
              closed_auto, held_at, held_s, first_priority, first_category, first_rules,
              first_at IS NULL AS undecided, first_read_text, final_priority, final_category
         FROM cases c ORDER BY id""",
    "SELECT * FROM tickets ORDER BY ticket_id",
    "SELECT id, case_id, ticket_id, at, author, text FROM notes ORDER BY id",
    """SELECT event_id, type, ts, received_at, client, case_id, priority, category, rules, body
         FROM events ORDER BY event_id""",
    """SELECT id, case_id, event_id, priority_before, priority_after, category_before,
              category_after, rules, why FROM triage ORDER BY id""",
    "SELECT id, actor, peer, action, case_id, before, after FROM audit ORDER BY id",
    "SELECT * FROM answers ORDER BY id",
    """SELECT case_id, deadline, started_at, due_at, warn_at, level, next_at, held
         FROM timers ORDER BY case_id, deadline""",
    """SELECT case_id, deadline, kind, level, due_at, priority, category, rules
         FROM escalations ORDER BY case_id, deadline, kind, level, due_at""",
]

NOTE = re.compile(r'^Asynchronous notification "hotline111" with payload "(.*)" received from '
                  r'server process with PID \d+\.$')


def normal(payload):
    """A notification without what depends on the moment it was made: a
    case alert's time stamp; an escalation's id, time stamp and lateness."""
    p = json.loads(payload)
    body = p.get("case") or p.get("escalation")
    for k in ("ts", "escalation", "late_ms") if "escalation" in p else ("ts",):
        assert k in body, payload
        del body[k]
    return json.dumps(p, sort_keys=True, ensure_ascii=False)


class IntakeDiff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.d = Daemon(cls.pg)

    @classmethod
    def tearDownClass(cls):
        cls.d.destroy()
        cls.pg.destroy()

    def database(self, name, reference):
        self.pg.query(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")
        conninfo = re.sub(r"dbname=\S+", f"dbname={name}", self.pg.conninfo)
        r = subprocess.run([DAEMON, "-c", self.d.conf, "-s", f'database.conninfo="{conninfo}"',
                            "--migrate"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        sql = HELPER + ("INSERT INTO settings (key, value) VALUES ('escalation', %s) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n") % (
            "$p$" + json.dumps(POLICY) + "$p$")
        self.psql(conninfo, sql)
        if reference:
            with open(REFERENCE, encoding="utf-8") as f:
                self.psql(conninfo, f.read())
        return conninfo

    def psql(self, conninfo, sql):
        r = subprocess.run(["psql", conninfo, "-XAtq", "-v", "ON_ERROR_STOP=1"], input=sql,
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def run_batches(self, conninfo, script):
        """Per batch and per fire: its rows, and its notifications (those
        of a fire as a set: timers due together fire in no fixed order)."""
        out = self.psql(conninfo, script).split("\n")
        steps = []
        for line in out:
            if line.startswith("@@ "):
                steps.append((line[3:], [], []))
                continue
            m = NOTE.match(line)
            if m:
                steps[-1][2].append(normal(m.group(1)))
            elif line:
                steps[-1][1].append(line)
        return [(name, rows, sorted(notes) if name.startswith("fire") else notes)
                for name, rows, notes in steps]

    def script(self, batches):
        lines = ["LISTEN hotline111;"]
        for i, b in enumerate(batches):
            text = json.dumps(b, ensure_ascii=False)
            self.assertNotIn("$j$", text)
            lines += [f"\\echo @@ batch {i}", f"SELECT diff_apply($j${text}$j$::jsonb);"]
            if i % 3 == 2:
                lines += [f"\\echo @@ fire {i}",
                          "SELECT 'fired ' || count(*) FROM h111_fire(100000);"]
        return "\n".join(lines) + "\n"

    def compare_rows(self, name, ref, new):
        """The same rows, but next_at: the case's after the batch, which
        the reference returned for the case's last event in the batch."""
        if ref and ref[0].startswith("ERROR") or new and new[0].startswith("ERROR"):
            self.assertEqual(ref, new, name)
            return 0
        ref = [json.loads(x) for x in ref]
        new = [json.loads(x) for x in new]
        self.assertEqual(len(ref), len(new), name)
        last = {r["case_id"]: r["next_at"] for r in ref if not r["dup"]}
        for a, b in zip(ref, new):
            want = dict(a, next_at=None if a["dup"] else last[a["case_id"]])
            self.assertEqual(want, b, name)
        return len(ref)

    def test_same_as_one_by_one(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        for seed in SEEDS:
            gen = Batches(seed, now)
            batches = gen.crafted() + [gen.batch() for _ in range(BATCHES)]
            script = self.script(batches)
            ref_db = self.database("ref", reference=True)
            new_db = self.database("new", reference=False)
            ref = self.run_batches(ref_db, script)
            new = self.run_batches(new_db, script)
            self.assertEqual([s[0] for s in ref], [s[0] for s in new])
            rows = errors = notes = fired = 0
            for (name, rrows, rnotes), (_, nrows, nnotes) in zip(ref, new):
                self.assertEqual(rnotes, nnotes, f"seed {seed}, {name}: notifications")
                if name.startswith("fire"):
                    self.assertEqual(rrows, nrows, f"seed {seed}, {name}")
                    fired += int(rrows[0].split()[1])
                    continue
                errors += bool(rrows) and rrows[0].startswith("ERROR")
                rows += self.compare_rows(f"seed {seed}, {name}", rrows, nrows)
                notes += len(rnotes)
            for q in DUMP:
                table = re.findall(r"FROM (\w+)", q)[-1]
                self.assertEqual(self.psql(ref_db, q), self.psql(new_db, q),
                                 f"seed {seed}: {table} differ")
            counts = self.psql(new_db, "SELECT (SELECT count(*) FROM cases), (SELECT count(*) "
                               "FROM cases WHERE closed_auto), (SELECT count(*) FROM timers "
                               "WHERE level > 0), (SELECT count(*) FROM escalations WHERE "
                               "kind = 'warning'), (SELECT count(*) FROM answers)").strip()
            print(f"seed {seed}: {rows} rows in {len(batches)} batches ({errors} refused), "
                  f"{notes} notifications, {fired} escalations fired; cases|auto-closed|"
                  f"escalated timers|warnings|answers = {counts}: same", file=sys.stderr)
            # what the run must have exercised to say anything
            c = [int(x) for x in counts.split("|")]
            self.assertGreater(rows, 100)
            self.assertGreater(fired, 0)
            self.assertTrue(all(x > 0 for x in c), counts)


if __name__ == "__main__":
    unittest.main()
