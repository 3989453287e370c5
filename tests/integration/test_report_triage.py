"""report --triage end to end (hotline111(1)): the real hotline111d, a real
PostgreSQL, cases made through the real bridge and the real console
program, then every figure of the report, as text and as --json, checked
against numbers counted by hand below. The console refuses malformed
report requests; the program escapes what a daemon sends and survives
results of the wrong shape."""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, rules_only, wait_for  # noqa: E402
from test_console import FakeDaemon  # noqa: E402

DROWNING = "bé đang đuối nước"                                  # P1 drowning
INFO = "cho hỏi thông tin"                                      # P4 info
EMOTIONAL = "hàng xóm hay chửi mắng con, gọi con là đồ ăn hại"   # P3 abuse.emotional
VAGUE = "ông ta đang ở nhà với bé, cứu với"                     # P4, nothing fires
HARM = "bé 6 tuổi bị bố dượng đánh bằng dây điện, người đầy vết lằn"  # P2 violence.domestic
SCHOOL = "bé bị bạn cùng lớp trêu chọc, giấu cặp sách"          # P2 violence.school
SEXUAL = "em bị thầy giáo sờ soạng vùng kín"                    # P2 abuse.sexual
OLD = "2020-03-01T10:00:00+07:00"


class ReportTriage(unittest.TestCase):
    """Thirteen cases, A to M, each made as its comment says. Hand count
    over the eleven closed by people (I is open, J closed by itself):

    case  first (rules)            final (at close)        category  priority
    A     P1 drowning              P1 drowning             agree     exact
    B     P4 info                  P4 info (set after)     agree     exact
    C     P3 abuse.emotional       P3 neglect              differ    exact
    D     P4 none                  P1 violence.domestic    differ    lower by 3
    E     P2 violence.domestic     P1 violence.domestic    agree     lower by 1 (a later note)
    F     P2 violence.school       P4 violence.school      agree     higher
    G     P2 abuse.sexual          P2 violence.school      differ    exact
    H     P2 info (IVR 3 + text)   P1 info                 agree     lower by 1
    K     P4 info (closed 2020)    P4 info                 agree     exact
    L     P3 abuse.emotional       P1 abuse.emotional      agree     lower by 2
    M     no decision (no text)    P4 none                 not compared

    compared 10: category 7 agree (70.0 %); priority exact 5 (50.0 %), rules
    lower 4 (40.0 %: D, E, H, L), rules higher 1 (10.0 %: F). Raised, most
    first: D (3), L (2), then E and H (1, to P1) by case number."""

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.tmp = tempfile.mkdtemp(prefix="h111rt-")
        # the texts below were chosen for what the rules decide
        cls.d = Daemon(cls.pg, sets=[f'triage.rules="{rules_only(cls.tmp)}"']).start()
        wait_for(lambda: cls.d.status()["database"] == "up")
        cls.bridge = Client(cls.d.bridge)
        cls.n = 0
        cls.case = {}
        cls.build_cases()

    @classmethod
    def tearDownClass(cls):
        cls.bridge.close()
        cls.d.stop()
        cls.d.destroy()
        cls.pg.destroy()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def send(cls, type, **fields):
        cls.n += 1
        r = cls.bridge.call(ev("rt-%d" % cls.n, type, **fields))
        assert "ack" in r, r
        return r

    @classmethod
    def ticket(cls, name, text=None, **fields):
        if text is not None:
            fields["text"] = text
        r = cls.send("ticket.created", ticket_id="T-" + name, **fields)
        cls.case[name] = r["case"]
        return r

    @classmethod
    def console(cls, *args):
        r = cls.d.cli(*args)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    @classmethod
    def close(cls, name, *outcome):
        cls.console("close", str(cls.case[name]), "--outcome", *(outcome or ("resolved",)))

    @classmethod
    def build_cases(cls):
        # A: the rules' decision stands; closed by the PBX
        assert cls.ticket("A", DROWNING)["priority"] == 1
        cls.send("ticket.closed", ticket_id="T-A", outcome="referred", referred_to="Công an xã")
        # B: stands; closed at the console, then re-categorised after its close
        cls.ticket("B", INFO)
        cls.close("B", "counselled")
        cls.console("set", str(cls.case["B"]), "category=silent")
        # C: re-categorised by the operator
        cls.ticket("C", EMOTIONAL)
        cls.console("set", str(cls.case["C"]), "category=neglect")
        cls.close("C")
        # D: the rules saw nothing; the operator raised it to P1 and named it
        assert cls.ticket("D", VAGUE)["priority"] == 4
        cls.console("set", str(cls.case["D"]), "priority=1", "category=violence.domestic")
        cls.close("D", "referred", "--referred-to", "Công an phường")
        # E: a later note raised it, by the rules; closed by the PBX
        assert cls.ticket("E", HARM)["priority"] == 2
        assert cls.send("ticket.updated", ticket_id="T-E",
                        text="ông ta đang ở nhà với bé, cứu với")["priority"] == 1
        cls.send("ticket.closed", ticket_id="T-E", outcome="referred", referred_to="Công an")
        # F: a supervisor lowered it, with a reason
        cls.ticket("F", SCHOOL)
        cls.console("set", str(cls.case["F"]), "priority=4", "--reason", "trẻ đã an toàn")
        cls.close("F", "counselled")
        # G: the operator's category came with the ticket; the rules named another
        assert cls.ticket("G", SEXUAL, category="violence.school")["category"] == \
            "violence.school"
        cls.close("G", "referred", "--referred-to", "Phòng GD")
        # H: the anti-trafficking branch of the IVR, then a text, then raised
        # by the operator
        cls.send("call.offered", call_id="C-H", caller="+84912345601", ivr=["3"])
        cls.send("call.answered", call_id="C-H", operator="lan")
        cls.ticket("H", INFO, call_id="C-H")
        cls.console("set", str(cls.case["H"]), "priority=1")
        cls.close("H")
        # I: still open, not counted
        cls.ticket("I", DROWNING)
        # J: a silent call that closed itself, not counted
        cls.send("call.offered", call_id="C-J", caller="+84912345602")
        cls.send("call.ended", call_id="C-J")
        cls.case["J"] = cls.send("call.ended", call_id="C-J")["case"]
        # K: made and closed in 2020, by the PBX's clock
        cls.ticket("K", INFO, ts="2020-03-01T09:00:00+07:00")
        cls.send("ticket.closed", ticket_id="T-K", outcome="counselled", ts=OLD)
        # L: the operator raised it two levels, same category
        cls.ticket("L", EMOTIONAL)
        cls.console("set", str(cls.case["L"]), "priority=1")
        cls.close("L", "referred", "--referred-to", "Hội Phụ nữ")
        # M: a ticket with nothing to triage: no automatic decision
        cls.ticket("M", operator="lan")
        cls.close("M", "no_action")

    def report(self, *args):
        return json.loads(self.console("--json", "report", "--triage", *args))

    def raised(self, *names):
        rows = {
            "D": (4, 1, None, "violence.domestic", [], "person"),
            "L": (3, 1, "abuse.emotional", "abuse.emotional", ["emotional-abuse"], "person"),
            "E": (2, 1, "violence.domestic", "violence.domestic",
                  ["domestic-violence", "physical-abuse", "harm-words"], "triage"),
            "H": (2, 1, "info", "info", ["ivr-anti-trafficking", "info-request"], "person"),
        }
        keys = ("first_priority", "final_priority", "first_category", "final_category",
                "rules", "by")
        return [dict(zip(keys, rows[n]), case=self.case[n]) for n in names]

    def test_the_cases_are_as_built(self):
        status = dict(self.pg.query("SELECT id, status || ' ' || closed_auto FROM cases"))
        self.assertEqual(status[str(self.case["I"])], "open false")
        self.assertEqual(status[str(self.case["J"])], "closed true")
        self.assertEqual(self.pg.scalar("SELECT category FROM cases WHERE id = %d"
                                        % self.case["B"]), "silent", "B changed after close")

    def test_json_every_figure(self):
        r = self.report()
        self.assertEqual((r["from"], r["to"]), (None, None))
        t = r["triage"]
        self.assertEqual((t["closed"], t["compared"], t["not_compared"]), (11, 10, 1))
        self.assertEqual(t["category"], {"n": 10, "agree": 7, "agree_pct": 70.0})
        self.assertEqual(t["priority"], {"n": 10, "exact": 5, "exact_pct": 50.0,
                                         "rules_lower": 4, "rules_lower_pct": 40.0,
                                         "rules_higher": 1, "rules_higher_pct": 10.0})
        self.assertEqual(t["confusion"], {
            "drowning": {"drowning": 1},
            "info": {"info": 3},
            "abuse.emotional": {"neglect": 1, "abuse.emotional": 1},
            "none": {"violence.domestic": 1},
            "violence.domestic": {"violence.domestic": 1},
            "violence.school": {"violence.school": 1},
            "abuse.sexual": {"violence.school": 1},
        })
        self.assertEqual(t["raised_total"], 4)
        self.assertEqual(t["raised"], self.raised("D", "L", "E", "H"))

    def test_the_period_is_by_close(self):
        old = self.report("--to", "2020-12-31")
        self.assertEqual(old["to"], "2020-12-31")
        t = old["triage"]
        self.assertEqual((t["closed"], t["compared"], t["not_compared"]), (1, 1, 0))
        self.assertEqual(t["category"], {"n": 1, "agree": 1, "agree_pct": 100.0})
        self.assertEqual((t["priority"]["exact"], t["priority"]["rules_lower"],
                          t["priority"]["rules_higher"]), (1, 0, 0))
        self.assertEqual(t["confusion"], {"info": {"info": 1}})
        self.assertEqual((t["raised"], t["raised_total"]), ([], 0))
        t = self.report("--from", "2021-01-01")["triage"]
        self.assertEqual((t["closed"], t["compared"], t["not_compared"]), (10, 9, 1))
        self.assertEqual(t["category"], {"n": 9, "agree": 6, "agree_pct": 66.7})
        self.assertEqual(t["priority"], {"n": 9, "exact": 4, "exact_pct": 44.4,
                                         "rules_lower": 4, "rules_lower_pct": 44.4,
                                         "rules_higher": 1, "rules_higher_pct": 11.1})
        self.assertEqual(t["raised"], self.raised("D", "L", "E", "H"))
        t = self.report("--from", "2019-01-01", "--to", "2019-12-31")["triage"]
        self.assertEqual((t["closed"], t["compared"], t["category"]["agree_pct"],
                          t["priority"]["exact_pct"], t["confusion"], t["raised"]),
                         (0, 0, None, None, {}, []))

    def test_text(self):
        out = self.console("report", "--triage")
        lines = out.splitlines()
        figures = [re.sub(r"  +", "|", line) for line in lines[:8]]
        self.assertEqual(figures, [
            "period|every closed case",
            "closed cases|11",
            "|compared|10",
            "|not compared|1",
            "category agrees|7 of 10 (70.0%)",
            "priority agrees|5 of 10 (50.0%)",
            "|rules lower than people|4 of 10 (40.0%)",
            "|rules higher than people|1 of 10 (10.0%)",
        ])
        # the confusion table: the categories numbered in order, a row each
        at = lines.index("rules' first category (rows) by category at close (columns)")
        names = ["abuse.emotional", "abuse.sexual", "drowning", "info", "neglect", "none",
                 "violence.domestic", "violence.school"]
        self.assertEqual(lines[at + 1].split(), [str(i) for i in range(1, 9)])
        cells = {}
        for i, name in enumerate(names):
            row = lines[at + 2 + i].split()
            self.assertEqual(row[:2], [str(i + 1), name])
            cells[name] = row[2:]
        self.assertEqual(cells["abuse.emotional"], "1 . . . 1 . . .".split())
        self.assertEqual(cells["abuse.sexual"], ". . . . . . . 1".split())
        self.assertEqual(cells["info"], ". . . 3 . . . .".split())
        self.assertEqual(cells["none"], ". . . . . . 1 .".split())
        self.assertEqual(cells["neglect"], ". . . . . . . .".split(), "a final-only category")
        total = sum(int(c) for row in cells.values() for c in row if c != ".")
        self.assertEqual(total, 10)
        # the raised list, most raised first
        at = lines.index("closed more urgent than the rules first left them, most raised first:")
        self.assertEqual(lines[at + 1].split(), ["CASE", "FIRST", "FINAL", "BY", "FIRST",
                                                 "CATEGORY", "FINAL", "CATEGORY", "RULES"])
        expected = [
            [str(self.case["D"]), "P4", "P1", "person", "-", "violence.domestic", "-"],
            [str(self.case["L"]), "P3", "P1", "person", "abuse.emotional", "abuse.emotional",
             "emotional-abuse"],
            [str(self.case["E"]), "P2", "P1", "triage", "violence.domestic",
             "violence.domestic", "domestic-violence,physical-abuse,harm-words"],
            [str(self.case["H"]), "P2", "P1", "person", "info", "info",
             "ivr-anti-trafficking,info-request"],
        ]
        rows = [line.split() for line in lines[at + 2:]]
        self.assertEqual([r[:-1] for r in rows], [r[:-1] for r in expected])
        # RULES takes what is left of the 100 columns, cut with an ellipsis
        for got, want, line in zip(rows, expected, lines[at + 2:]):
            if got[-1] != want[-1]:
                self.assertTrue(got[-1].endswith("\u2026"), got)
                self.assertTrue(want[-1].startswith(got[-1][:-1]), (got, want))
                self.assertEqual(len(line), 100, line)
        self.assertEqual(rows[1][-1], "emotional-abuse", "L's rules in full")
        self.assertTrue(all(len(line) <= 100 for line in lines), "fits a terminal")
        empty = self.console("report", "--triage", "--from", "2019-01-01", "--to", "2019-12-31")
        self.assertRegex(empty, r"(?m)^category agrees +0 of 0$")
        self.assertRegex(empty, r"(?m)^period +cases closed 2019-01-01 to 2019-12-31$")
        self.assertRegex(self.console("report", "--triage", "--from", "2021-01-01"),
                         r"^period +cases closed from 2021-01-01\n")
        self.assertRegex(self.console("report", "--triage", "--to", "2020-12-31"),
                         r"^period +cases closed up to 2020-12-31\nclosed cases +1\n")
        self.assertTrue(empty.endswith("most raised first:\nnone\n"), empty)
        self.assertNotIn("rules' first category", empty)

    def test_the_published_report_is_unchanged(self):
        r = json.loads(self.console("--json", "report", "--from", "2000-01-01", "--to",
                                    "2099-12-31"))
        self.assertEqual(set(r), {"from", "to", "calls", "cases", "labels"})

    def test_refused_requests(self):
        c = Client(os.path.join(self.d.dir, "console.sock"))
        self.addCleanup(c.close)
        for bad in ({"cmd": "report", "triage": "yes"},
                    {"cmd": "report", "triage": 1},
                    {"cmd": "report", "triage": False},
                    {"cmd": "report", "from": "2026-01-01"},
                    {"cmd": "report", "triage": True, "from": "2026-02-30"},
                    {"cmd": "report", "triage": True, "to": "2026-1-01"},
                    {"cmd": "report", "triage": True, "to": 20260101},
                    {"cmd": "report", "triage": True, "from": "2026-12-02",
                     "to": "2026-12-01"},
                    {"cmd": "report", "triage": True, "from": "x" * 100000},
                    {"cmd": "report", "triage": True, "from": "2026-01-01\u0000"},
                    {"cmd": "report", "triage": True, "from": "'; DROP TABLE cases;--"}):
            r = c.call(bad)
            self.assertEqual((r.get("ok"), r.get("error")), (False, "too_long" if len(
                json.dumps(bad)) > 65536 else "bad_request"), bad)
        r = c.call({"cmd": "report", "triage": True, "from": None, "to": None})
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["result"]["triage"]["closed"], 11)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "13")

    def test_usage(self):
        for args in (["report"], ["report", "--from", "2026-01-01"],
                     ["report", "--triage=yes"], ["report", "--triage", "--from", "2026-02-30"],
                     ["report", "--triage", "--from", "2026-12-02", "--to", "2026-12-01"],
                     ["report", "--triage", "--triage"]):
            r = self.d.cli(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertRegex(r.stderr, r"^hotline111: [^\n]+\n$", args)
        self.assertIn("report [--from DATE] [--to DATE] [--triage]",
                      self.console("--help"))


HOSTILE = {"from": None, "to": "2026-12-31\x1b[2J", "triage": {
    "closed": 3, "compared": "two", "not_compared": 1,
    "category": {"n": 2, "agree": 1, "agree_pct": "50"},
    "priority": {"n": 2, "exact": 1, "exact_pct": 50.0, "rules_lower": 1,
                 "rules_lower_pct": None, "rules_higher": 0, "rules_higher_pct": 0},
    "confusion": {"\x1b[31mred": {"ok\u202e": 2, "n": "x"}, "list": [1, 2], "none": 7},
    "raised_total": 99,
    "raised": [{"case": 5, "first_priority": 4, "final_priority": 1,
                "first_category": "a\nb", "final_category": "\u2028x",
                "rules": ["r\x07", 3, None], "by": "person"},
               "not an object", {"case": "6", "rules": "x" * 500}]}}


class Program(unittest.TestCase):
    """What the program sends for --triage, and how it takes a result that
    is hostile or of the wrong shape: escaped, no crash, a line per row."""

    def test_request(self):
        fake = FakeDaemon(reply=b'{"id":1,"ok":true,"result":{}}\n')
        r = fake.run("--json", "report", "--triage", "--from", "2026-11-01")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(fake.requests[0], {"cmd": "report", "triage": True,
                                            "from": "2026-11-01", "id": 1})

    def test_hostile_result(self):
        fake = FakeDaemon(reply=json.dumps({"id": 1, "ok": True, "result": HOSTILE}).encode()
                          + b"\n")
        r = fake.run("report", "--triage")
        self.assertEqual(r.returncode, 0, r.stderr)
        for raw in ("\x1b", "\u202e", "\x07", "\u2028"):
            self.assertNotIn(raw, r.stdout)
        self.assertIn("\\x1b[31mred", r.stdout)
        self.assertIn("period                        cases closed up to 2026-12-31\\x1b[2J\n",
                      r.stdout)
        self.assertIn("ok\\u202e", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^category agrees +1 of 2$")
        self.assertIn("... and 96 more", r.stdout)
        self.assertTrue(all(len(line) <= 100 for line in r.stdout.splitlines()), r.stdout)

    def test_empty_result(self):
        fake = FakeDaemon(reply=b'{"id":1,"ok":true,"result":{"triage":{}}}\n')
        r = fake.run("report", "--triage")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("period", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
