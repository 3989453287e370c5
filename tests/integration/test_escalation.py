"""Escalation timers against a real PostgreSQL and the real daemon, with
deadlines of seconds: armed by events, met by events, escalated level
after level until acknowledged, exactly once per deadline and level across
a SIGKILL and across two daemons, logged as supervisors tail it."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, wait_for  # noqa: E402

FAST = ["escalation.warn=0", "escalation.repeat=1",
        "escalation.p4={ answer = 2; claim = 3; act = 600; }",
        "escalation.p1={ answer = 1; claim = 2; act = 600; plan = \"5wd\"; }"]
LOG_KEYS = ["ts", "kind", "escalation", "case", "priority", "category", "deadline", "level",
            "due", "late_ms", "caller", "rules"]


class Escalation(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=list(FAST) + list(sets))
        self.addCleanup(d.destroy)
        return d.start()

    def escalations(self, case, deadline=None, kind="escalation"):
        sql = ("SELECT level, extract(epoch FROM due_at), late_ms, priority FROM escalations "
               "WHERE case_id = %d AND kind = '%s'" % (case, kind))
        if deadline:
            sql += " AND deadline = '%s'" % deadline
        return [(int(r[0]), float(r[1]), int(r[2]), int(r[3]))
                for r in self.pg.query(sql + " ORDER BY due_at, level")]

    def log_lines(self, d):
        path = os.path.join(d.dir, "escalations.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def test_unanswered_call_escalates_answered_one_does_not(self):
        d = self.daemon()
        c = Client(d.bridge)
        late = c.call(ev("a-1", "call.offered", call_id="a-c1", caller="+84912345678"))
        ok = c.call(ev("a-2", "call.offered", call_id="a-c2"))
        c.call(ev("a-3", "call.answered", call_id="a-c2", operator="lan"))
        wait_for(lambda: self.escalations(late["case"], "answer"))
        time.sleep(0.5)
        self.assertEqual(self.escalations(ok["case"], "answer"), [])
        first = self.escalations(late["case"], "answer")[0]
        self.assertEqual(first[0], 1)
        self.assertLess(first[2], 1000, "fired more than a second late")
        line = [x for x in self.log_lines(d) if x["case"] == late["case"]][0]
        self.assertEqual(list(line), LOG_KEYS)
        self.assertEqual((line["kind"], line["deadline"], line["level"], line["caller"]),
                         ("escalation", "answer", 1, "+849******78"))
        self.assertRegex(line["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")
        self.assertNotIn("912345", d.log_text())

    def test_levels_repeat_until_ack(self):
        d = self.daemon()
        c = Client(d.bridge)
        r = c.call(ev("l-1", "ticket.created", ticket_id="l-t1", text="hỏi thông tin"))
        got = wait_for(lambda: len(self.escalations(r["case"], "claim")) >= 4 and
                       self.escalations(r["case"], "claim"), timeout=15)
        levels = [g[0] for g in got]
        self.assertEqual(levels[:4], [1, 2, 3, 3], "the last level repeats")
        gaps = [round(b[1] - a[1], 3) for a, b in zip(got, got[1:])]
        self.assertTrue(all(g == 1.0 for g in gaps[:3]), gaps)
        eid = self.pg.scalar("SELECT min(id) FROM escalations WHERE case_id = %d AND "
                             "deadline = 'claim'" % r["case"])
        self.assertEqual(self.pg.scalar("SELECT h111_ack(%s, 'supervisor:mai', 'test')" % eid),
                         str(r["case"]))
        acked = len(self.escalations(r["case"], "claim"))
        time.sleep(2.5)
        self.assertLessEqual(len(self.escalations(r["case"], "claim")), acked + 1,
                             "escalations went on after the ack")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM timers WHERE case_id = %d AND "
                                        "deadline = 'claim'" % r["case"]), "0")
        self.assertEqual(self.pg.scalar("SELECT action FROM audit WHERE case_id = %d" % r["case"]),
                         "escalation.ack")

    def test_claim_stops_claim_but_not_act(self):
        d = self.daemon("escalation.p4={ answer = 2; claim = 2; act = 3; }")
        c = Client(d.bridge)
        r = c.call(ev("s-1", "ticket.created", ticket_id="s-t1", text="hỏi thông tin"))
        c.call(ev("s-2", "ticket.updated", ticket_id="s-t1", operator="lan", text="đã nhận"))
        wait_for(lambda: self.escalations(r["case"], "act"))
        self.assertEqual(self.escalations(r["case"], "claim"), [])
        c.call(ev("s-3", "ticket.closed", ticket_id="s-t1", outcome="counselled"))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM timers WHERE case_id = %d" % r["case"]),
                         "0", "closing stops every deadline")

    def test_priority_raise_rearms_at_the_stricter_policy(self):
        d = self.daemon("escalation.p4={ answer = 60; claim = 60; act = 600; }")
        c = Client(d.bridge)
        r = c.call(ev("p-1", "ticket.created", ticket_id="p-t1", text="hỏi thông tin"))
        before = float(self.pg.scalar("SELECT extract(epoch FROM due_at) FROM timers WHERE "
                                      "case_id = %d AND deadline = 'claim'" % r["case"]))
        u = c.call(ev("p-2", "ticket.updated", ticket_id="p-t1",
                      text="bé đang đuối nước dưới ao, cứu với"))
        self.assertEqual(u["priority"], 1)
        after = float(self.pg.scalar("SELECT extract(epoch FROM due_at) FROM timers WHERE "
                                     "case_id = %d AND deadline = 'claim'" % r["case"]))
        self.assertAlmostEqual(after - (before - 60), 2, places=3,
                               msg="counted from the original start at the P1 policy")
        got = wait_for(lambda: self.escalations(r["case"], "claim"))
        self.assertEqual((got[0][0], got[0][3]), (1, 1))

    def test_sigkill_before_deadline_fires_once_late_after_restart(self):
        d = self.daemon("escalation.repeat=600")
        c = Client(d.bridge)
        r = c.call(ev("k-1", "ticket.created", ticket_id="k-t1", text="hỏi thông tin"))
        d.kill9()
        time.sleep(4.5)
        d.start()
        got = wait_for(lambda: self.escalations(r["case"], "claim"))
        time.sleep(1.0)
        got = self.escalations(r["case"], "claim")
        self.assertEqual(len(got), 1, got)
        self.assertGreater(got[0][2], 1000, "marked late: fired at start-up, past its due")
        self.assertIn("pending deadlines loaded", d.log_text())

    def timer_due(self, case, deadline):
        return float(self.pg.scalar("SELECT extract(epoch FROM due_at) FROM timers WHERE "
                                    "case_id = %d AND deadline = '%s'" % (case, deadline)))

    def records(self, case, deadline):
        """(kind, level, due, late_ms, fired - due in ms) of each record."""
        return [(r[0], int(r[1]), float(r[2]), int(r[3]), int(r[4])) for r in self.pg.query(
            "SELECT kind, level, extract(epoch FROM due_at), late_ms, "
            "(extract(epoch FROM fired_at - due_at) * 1000)::bigint FROM escalations "
            "WHERE case_id = %d AND deadline = '%s' ORDER BY id" % (case, deadline))]

    def test_warning_and_escalation_carry_the_deadline_due(self):
        d = self.daemon("escalation.warn=0.5", "escalation.repeat=600",
                        "escalation.p4={ answer = 60; claim = 3; act = 600; }")
        c = Client(d.bridge)
        r = c.call(ev("wd-1", "ticket.created", ticket_id="wd-t1", text="hỏi thông tin"))
        due = self.timer_due(r["case"], "claim")
        got = wait_for(lambda: len(self.records(r["case"], "claim")) >= 2 and
                       self.records(r["case"], "claim"), timeout=15)
        (wk, wl, wdue, wlate, wdiff), (ek, el, edue, elate, ediff) = got[:2]
        self.assertEqual((wk, wl, ek, el), ("warning", 0, "escalation", 1))
        self.assertAlmostEqual(wdue, due, places=3, msg="the warning names the deadline's due")
        self.assertAlmostEqual(edue, due, places=3)
        self.assertEqual((wlate, elate), (wdiff, ediff), "late_ms is counted from due")
        self.assertLess(wlate, -1000, "a warning comes before its deadline")
        self.assertTrue(0 <= elate < 1000, elate)
        lines = [x for x in self.log_lines(d) if x["case"] == r["case"]]
        self.assertEqual([x["due"] for x in lines][0], lines[1]["due"])
        self.assertEqual([x["late_ms"] for x in lines[:2]], [wlate, elate])

    def test_late_first_escalation_counts_from_the_deadline_not_the_warning(self):
        d = self.daemon("escalation.warn=0.5", "escalation.repeat=600",
                        "escalation.p4={ answer = 60; claim = 4; act = 600; }")
        c = Client(d.bridge)
        r = c.call(ev("lw-1", "ticket.created", ticket_id="lw-t1", text="hỏi thông tin"))
        due = self.timer_due(r["case"], "claim")
        d.kill9()  # before the warning (2 s) and the deadline (4 s)
        wait_for(lambda: time.time() > due + 2, timeout=15)
        d.start()
        got = wait_for(lambda: self.records(r["case"], "claim"), timeout=15)
        kind, level, edue, late, diff = got[0]
        self.assertEqual((kind, level), ("escalation", 1), "no warning for a passed deadline")
        self.assertAlmostEqual(edue, due, places=3, msg="due is the deadline's, not the warning's")
        self.assertEqual(late, diff)
        self.assertTrue(2000 <= late < 10000, late)

    def test_late_chain_does_not_catch_up_in_a_burst(self):
        d = self.daemon("escalation.repeat=1")
        c = Client(d.bridge)
        # A case from an hour ago: its claim deadline passed 3,597 levels ago.
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        r = c.call(ev("b-1", "ticket.created", ticket_id="b-t1", text="hỏi thông tin", ts=old))
        wait_for(lambda: self.escalations(r["case"], "claim"))
        time.sleep(1.5)
        got = self.escalations(r["case"], "claim")
        self.assertLessEqual(len(got), 3, "one late escalation, then one per repeat")
        self.assertGreater(got[0][2], 3500 * 1000)
        self.assertEqual(self.escalations(r["case"], "claim", kind="warning"), [],
                         "no warning for a deadline already passed")

    def test_two_daemons_escalate_each_deadline_once(self):
        sets = ["escalation.repeat=600", "escalation.p4={ answer = 2; claim = 4; act = 600; }"]
        a = self.daemon(*sets)
        b = self.daemon(*sets)
        ca, cb = Client(a.bridge), Client(b.bridge)
        n = 1000
        ca.sock.sendall(b"".join(b'{"id":"two-%d","type":"ticket.created","ticket_id":"two-%d",'
                                 b'"text":"x"}\n' % (i, i) for i in range(0, n, 2)))
        cb.sock.sendall(b"".join(b'{"id":"two-%d","type":"ticket.created","ticket_id":"two-%d",'
                                 b'"text":"x"}\n' % (i, i) for i in range(1, n, 2)))
        for _ in range(n // 2):
            ca.recv()
            cb.recv()
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM escalations WHERE deadline = "
                                        "'claim'") == str(n), timeout=30)
        time.sleep(1)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM escalations WHERE deadline = 'claim'"),
                         str(n))
        self.assertEqual(self.pg.scalar("SELECT count(DISTINCT (case_id, level)) FROM escalations "
                                        "WHERE deadline = 'claim'"), str(n))
        logged = [x["escalation"] for d in (a, b) for x in self.log_lines(d)
                  if x["deadline"] == "claim"]
        self.assertEqual(len(logged), n)
        self.assertEqual(len(set(logged)), n, "an escalation logged by both daemons")

    def test_log_reopens_after_rename(self):
        d = self.daemon("escalation.repeat=1")
        path = os.path.join(d.dir, "escalations.log")
        c = Client(d.bridge)
        r = c.call(ev("r-1", "ticket.created", ticket_id="r-t1", text="hỏi thông tin"))
        wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0)
        os.rename(path, path + ".1")
        d.signal(signal.SIGHUP)
        d.wait_log("reload:")
        wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0)
        time.sleep(1.5)
        with open(path + ".1") as f1, open(path) as f2:
            ids = [json.loads(x)["escalation"] for x in f1.readlines() + f2.readlines()]
        in_db = self.pg.query("SELECT id FROM escalations WHERE case_id = %d ORDER BY id" % r["case"])
        self.assertEqual(len(ids), len(set(ids)), "a line written twice")
        self.assertTrue({int(x[0]) for x in in_db[:len(ids) - 1]} <= set(ids))

    def test_hold_pauses_act(self):
        d = self.daemon("escalation.p4={ answer = 60; claim = 600; act = 2; }")
        c = Client(d.bridge)
        r = c.call(ev("h-1", "ticket.created", ticket_id="h-t1", text="chờ công an xã"))
        self.pg.query("SELECT h111_hold(%d, true, 'chờ công an xã xác minh', 'supervisor:mai', "
                      "'test')" % r["case"])
        time.sleep(3)
        self.assertEqual(self.escalations(r["case"], "act"), [])
        self.pg.query("SELECT h111_hold(%d, false, 'xã đã trả lời', 'supervisor:mai', 'test')"
                      % r["case"])
        d.signal(signal.SIGHUP)  # any wake-up; the sweep would find it too
        got = wait_for(lambda: self.escalations(r["case"], "act"), timeout=15)
        self.assertEqual(got[0][0], 1)
        actions = [x[0] for x in self.pg.query("SELECT action FROM audit WHERE case_id = %d "
                                               "ORDER BY id" % r["case"])]
        self.assertEqual(actions, ["case.hold", "case.resume"])

    def test_silent_p4_call_closes_itself(self):
        d = self.daemon()
        c = Client(d.bridge)
        r = c.call(ev("q-1", "call.offered", call_id="q-c1"))
        c.call(ev("q-2", "call.answered", call_id="q-c1", operator="lan"))
        c.call(ev("q-3", "call.ended", call_id="q-c1", duration_s=4))
        self.assertEqual(self.pg.query("SELECT status, outcome FROM cases WHERE id = %d" % r["case"]),
                         [["closed", "no_action"]])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM timers WHERE case_id = %d" % r["case"]),
                         "0")
        # A ticket that arrives late reopens it.
        c.call(ev("q-4", "ticket.created", ticket_id="q-t1", call_id="q-c1", text="gọi lại"))
        self.assertEqual(self.pg.scalar("SELECT status FROM cases WHERE id = %d" % r["case"]), "open")

    def test_warning_once_before_the_deadline(self):
        d = self.daemon("escalation.warn=0.5", "escalation.repeat=600")
        c = Client(d.bridge)
        r = c.call(ev("w-1", "call.offered", call_id="w-c1"))
        wait_for(lambda: self.escalations(r["case"], "answer"))
        warns = self.escalations(r["case"], "answer", kind="warning")
        esc = self.escalations(r["case"], "answer")
        self.assertEqual(len(warns), 1)
        self.assertAlmostEqual(esc[0][1], warns[0][1], places=3,
                               msg="a warning names its deadline's due")
        self.assertTrue(-1000 <= warns[0][2] <= -700, "warned at 50%% of 2 s: %d ms before"
                        % -warns[0][2])


class Calendar(unittest.TestCase):
    """Working-day deadlines, computed where they are armed (in PostgreSQL)."""

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        d = Daemon(cls.pg)
        d.start().stop()
        d.destroy()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def wd(self, start, n, holidays=()):
        pol = json.dumps({"weekend": [6, 7], "holidays": list(holidays), "tz": "Asia/Ho_Chi_Minh"})
        return self.pg.scalar("SELECT to_char(h111_add_working_days('%s', %d, '%s') AT TIME ZONE "
                              "'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI')" % (start, n, pol))

    def test_across_a_weekend(self):
        self.assertEqual(self.wd("2026-11-20 15:00+07", 5), "2026-11-27 15:00")  # Fri -> Fri
        self.assertEqual(self.wd("2026-11-19 09:30+07", 2), "2026-11-23 09:30")  # Thu -> Mon

    def test_started_on_a_day_off_counts_from_the_next_working_day(self):
        self.assertEqual(self.wd("2026-11-21 10:00+07", 1), "2026-11-24 00:00")  # Sat
        # 17:30 UTC on Friday is already Saturday in Hà Nội.
        self.assertEqual(self.wd("2026-11-20 17:30Z", 1), "2026-11-24 00:00")

    def test_no_start_no_deadline(self):
        pol = json.dumps({"weekend": [6, 7], "holidays": [], "tz": "Asia/Ho_Chi_Minh"})
        self.assertEqual(self.pg.query("SELECT h111_add_working_days(NULL, 5, '%s') IS NULL, "
                                       "h111_due(NULL, 1, 'plan', '{\"p\":[{\"plan\":{\"wd\":5}}]}') "
                                       "IS NULL" % pol), [["t", "t"]])

    def test_across_tet(self):
        tet = ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"]
        self.assertEqual(self.wd("2026-02-13 15:00+07", 5, tet), "2026-02-27 15:00")
        self.assertEqual(self.wd("2026-02-13 15:00+07", 5), "2026-02-20 15:00")


if __name__ == "__main__":
    unittest.main(verbosity=2)
