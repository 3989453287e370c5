"""The console for supervisors end to end (issue 16, part 1): the queue's
filters, find --caller, assign with the previous owner told on their tail
(and a claim that takes a case over), the escalations list, show masking
the caller for operators who do not own the case, and the rules' category
labels beside the ids. The real hotline111d and hotline111, operators as
other Unix users (SO_PEERCRED), a private PostgreSQL."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (wait_for, CLI, TOP, Client, Daemon, Postgres,  # noqa: E402
                     send_event, system_user)

ROOT = os.getuid() == 0
# console.operators: name -> (system user, role)
OPERATORS = {"lan": ("h111op", "operator"), "hoa": ("h111op2", "operator"),
             "mai": ("h111sup", "supervisor")}
# The escalation chain of a P4 ticket fires its claim deadline after 2 s.
FAST = ["escalation.warn=0", "escalation.repeat=600",
        "escalation.p4={ answer = 1; claim = 2; act = 600; }"]
LABELS = {"drowning": "Đuối nước", "abuse.sexual": "Xâm hại tình dục", "info": "Thông tin, tư vấn",
          "neglect": "Bỏ mặc, sao nhãng"}
QUESTIONS = ["danger_now=yes", "abuser_access=no", "injured=none", "child_age=9",
             "location_known=yes"]
DROWNING = "bé đang đuối nước"
INFO = "cho hỏi thông tin"
ME = "root"

pg = daemon = None
uids = {}


def setUpModule():
    global pg, daemon
    if ROOT:
        for name, (user, _) in OPERATORS.items():
            uids[name] = system_user(user)
    pg = Postgres()
    ops = ", ".join('{ name = "%s"; uid = %d; role = "%s"; }'
                    % (name, uids.get(name, 99990 + i), role)
                    for i, (name, (_, role)) in enumerate(OPERATORS.items()))
    daemon = Daemon(pg, sets=FAST + ["console.operators=( %s )" % ops])
    os.chmod(daemon.dir, 0o755)  # the operators' users reach the socket through it
    daemon.console = os.path.join(daemon.dir, "console.sock")
    daemon.start()
    wait_for(lambda: daemon.status()["database"] == "up")


def tearDownModule():
    if daemon:
        daemon.destroy()
    if pg:
        pg.destroy()


def as_user(name, cmd):
    """cmd run as the Unix user of console operator name (None: as root, admin)."""
    return ["runuser", "-u", OPERATORS[name][0], "--", *cmd] if name else cmd


def hotline(*args, who=None):
    return subprocess.run(as_user(who, [CLI, "-S", daemon.console, *args]),
                          capture_output=True, text=True, timeout=30)


def ok(*args, who=None):
    r = hotline(*args, who=who)
    if r.returncode != 0:
        raise AssertionError("hotline111 %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                             r.stderr))
    return r.stdout


def js(*args, who=None):
    return json.loads(ok("--json", *args, who=who))


def refused(r, status, pattern):
    """A refusal: its exit status and its one line on standard error."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("hotline111: "), r.stderr
    if pattern not in r.stderr:
        raise AssertionError("%r not in %r" % (pattern, r.stderr))


_seq = [0]


def event(type, **fields):
    return send_event(daemon.bridge, "sup", type, **fields)["case"]


def ticket(text=INFO, **fields):
    _seq[0] += 1
    return event("ticket.created", ticket_id="st-%d-%d" % (os.getpid(), _seq[0]), text=text,
                 **fields)


def call(caller, **fields):
    _seq[0] += 1
    return event("call.offered", call_id="sc-%d-%d" % (os.getpid(), _seq[0]), caller=caller,
                 **fields)


def province():
    """A province of one test's own, so that a filter on it sees only its cases."""
    _seq[0] += 1
    return "Tỉnh thử %d-%d" % (os.getpid(), _seq[0])


def raw(*requests):
    """Requests straight on the socket, as root: the replies."""
    c = Client(daemon.console)
    try:
        return [c.call(r) for r in requests]
    finally:
        c.close()


class Tail:
    """hotline111 [--json] tail as a console operator, its lines collected."""

    def __init__(self, who=None, json_out=True):
        cmd = [CLI, "-S", daemon.console, *(["--json"] if json_out else []), "tail"]
        self.proc = subprocess.Popen(as_user(who, cmd), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines, self.errors, self.seen = queue.Queue(), queue.Queue(), []
        for pipe, q in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors)):
            threading.Thread(target=self._pump, args=(pipe, q), daemon=True).start()
        self.expect(lambda line: "tailing" in line, q=self.errors)

    @staticmethod
    def _pump(pipe, q):
        for line in pipe:
            q.put(line.rstrip("\n"))

    def expect(self, pred, timeout=10, q=None):
        deadline = time.time() + timeout
        while True:
            try:
                line = (q or self.lines).get(timeout=max(deadline - time.time(), 0.01))
            except queue.Empty:
                raise AssertionError("tail: nothing matching in %ss; saw %r" % (timeout,
                                                                                self.seen))
            self.seen.append(line)
            if pred(line):
                return line

    def alert(self, pred, timeout=10):
        return json.loads(self.expect(lambda line: line.startswith("{")
                                      and "alert" in json.loads(line)
                                      and pred(json.loads(line)), timeout))

    def notices(self, wait=0.5):
        """Every notice this (--json) tail printed, waiting wait seconds for more."""
        time.sleep(wait)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        alerts = [json.loads(x) for x in self.seen if x.startswith("{")]
        return [a["notice"] for a in alerts if a.get("alert") == "notice"]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def notice_for(case, to):
    return lambda a: (a.get("alert") == "notice" and a["notice"]["case"] == case
                      and a["notice"]["to"] == to)


def audit(case, action):
    return [(actor, json.loads(before) if before else None, json.loads(after))
            for actor, before, after in pg.query(
                "SELECT actor, before, after FROM audit WHERE case_id = :'p1' AND action = "
                ":'p2' ORDER BY id", case, action)]


class QueueFilters(unittest.TestCase):
    def test_each_filter_and_combined(self):
        here, there = province(), province()
        drown = ticket(DROWNING, province=here)
        info = ticket(INFO, province=here)
        neglect = ticket("bé bị bỏ đói mấy ngày", province=there)
        ok("set", str(neglect), "category=neglect")
        ok("claim", str(info))
        ours = {drown, info, neglect}

        def cases(*args):
            return [r["case"] for r in js("queue", *args)["cases"] if r["case"] in ours]

        self.assertEqual(cases("--province", here), [drown, info])
        self.assertEqual(cases("--province", here.upper()), [drown, info],
                         "a province matches whatever its letters' case")
        self.assertEqual(cases("--province", there), [neglect])
        self.assertEqual(cases("--category", "drowning", "--province", here), [drown])
        self.assertEqual(cases("--category", "neglect"), [neglect])
        self.assertEqual(cases("--operator", ME, "--province", here), [info])
        self.assertEqual(cases("--operator", "none", "--province", here), [drown])
        self.assertEqual(cases("--priority", "4", "--province", here), [info])
        self.assertEqual(cases("--priority", "1", "--operator", ME), [],
                         "the filters combine: each one narrows")
        self.assertEqual(cases("--mine", "--province", here), [info])
        self.assertEqual(set(cases()), ours)
        every = js("queue", "--province", here)
        self.assertEqual(every["labels"]["drowning"], LABELS["drowning"])
        self.assertEqual([r["category"] for r in every["cases"]], ["drowning", "info"],
                         "--json keeps the ids; the labels come apart")
        nobody = [r for r in js("queue", "--category", "none")["cases"]]
        self.assertTrue(all(r["category"] is None for r in nobody), nobody)

    def test_unanswered(self):
        here = province()
        p1 = ticket(DROWNING, province=here)
        p4 = ticket(INFO, province=here)
        answered = ticket(DROWNING, province=here)
        ok("assess", str(answered), *[a for q in QUESTIONS for a in ("--answer", q)])
        ok("assess", str(p1), "--answer", "danger_now=yes")
        rows = js("queue", "--unanswered", "--province", here)["cases"]
        self.assertEqual([r["case"] for r in rows], [p1],
                         "P1 and P2 cases with a key question unanswered, as ASK marks them")
        self.assertEqual(rows[0]["unanswered"], ["abuser_access", "injured", "child_age",
                                                 "location_known"])
        self.assertIn(p4, [r["case"] for r in js("queue", "--province", here)["cases"]])
        self.assertIn(answered, [r["case"] for r in js("queue", "--province", here)["cases"]])

    def test_labels_in_the_table(self):
        here = province()
        case = ticket(DROWNING, province=here)
        out = ok("queue", "--province", here).splitlines()
        self.assertEqual(out[0].split()[-1], "LABEL", "the new column comes last")
        line = [x for x in out if x.split()[0] == str(case)][0]
        self.assertTrue(line.endswith(" " + LABELS["drowning"]), line)
        self.assertLessEqual(len(line), 100, line)

    def test_bad_filters(self):
        r = hotline("queue", "--category", "drowned")
        refused(r, 1, 'category: no category "drowned" in the rules file; the categories '
                      'are abuse.sexual, ')
        self.assertIn("drowning", r.stderr, "the refusal lists the categories to choose from")
        refused(hotline("queue", "--operator", "tuan"), 1,
                'operator: no console operator named "tuan"')
        refused(hotline("queue", "--mine", "--operator", "lan"), 2, "not both")
        refused(hotline("queue", "--province", ""), 2, "must not be empty")
        refused(hotline("queue", "--unanswered=yes"), 2, "takes no value")
        refused(hotline("queue", "--category"), 2, "needs a value")
        for bad in ({"cmd": "queue", "province": 5}, {"cmd": "queue", "province": ""},
                    {"cmd": "queue", "province": "x" * 129},
                    {"cmd": "queue", "category": "x" * 65}, {"cmd": "queue", "category": ["info"]},
                    {"cmd": "queue", "category": "info'; DROP TABLE cases; --"},
                    {"cmd": "queue", "operator": {"name": "lan"}},
                    {"cmd": "queue", "operator": "lan", "mine": True},
                    {"cmd": "queue", "unanswered": "yes"}, {"cmd": "queue", "unanswered": 1}):
            reply = raw(bad)[0]
            self.assertEqual((reply["ok"], reply["error"]), (False, "bad_request"), bad)
        hostile = raw({"cmd": "queue", "province": "x' OR '1'='1"})[0]
        self.assertEqual(hostile["result"]["cases"], [], "a parameter, never SQL")


class Find(unittest.TestCase):
    @unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
    def test_a_repeat_callers_history(self):
        number = "+8491%07d" % (os.getpid() % 10000000)
        local = "0" + number[3:]
        first = call(number, province="Hà Giang")
        time.sleep(0.01)
        second = call(local)
        ok("note", str(second), DROWNING)
        time.sleep(0.01)
        third = call(number[1:])  # 8491...: the same caller, as another PBX writes it
        call("+84987000111")
        ok("close", str(first), "--outcome", "counselled")

        found = js("find", "--caller", local, who="mai")
        self.assertEqual(found["total"], 3)
        self.assertEqual([c["case"] for c in found["cases"]], [third, second, first],
                         "newest first")
        self.assertEqual(set(found["cases"][0]), {
            "case", "opened_at", "closed_at", "status", "priority", "category", "operator",
            "province", "outcome", "referred_to", "rules", "caller"})
        old = found["cases"][2]
        self.assertEqual((old["status"], old["outcome"], old["province"], old["caller"]),
                         ("closed", "counselled", "Hà Giang", number))
        self.assertEqual(found["cases"][1]["category"], "drowning")
        self.assertEqual(found["labels"]["drowning"], LABELS["drowning"])

        spaced = "%s %s %s" % (number[:3], number[3:6], number[6:])
        human = ok("find", "--caller", spaced, "--limit", "2", who="mai").splitlines()
        self.assertEqual(human[0], "caller %s: 3 cases, newest first" % number.replace(" ", ""))
        self.assertEqual(human[1].split()[:4], ["CASE", "OPENED", "STATUS", "PRI"])
        self.assertRegex(human[3], r"^ *%d \d{4}-\d\d-\d\d \d\d:\d\d +open +P1 +drowning +"
                         r"- +- +%s$" % (second, LABELS["drowning"]))
        self.assertEqual(human[-1], "... and 1 older: see --limit")

        rows = pg.query("SELECT actor, after FROM audit WHERE action = 'caller.find' ORDER BY id")
        self.assertEqual(len(rows), 2, "every look-up is audited")
        self.assertEqual(rows[0][0], "console:mai")
        self.assertEqual(json.loads(rows[0][1])["cases"], 3)
        self.assertNotIn(local[1:], rows[0][1], "the audit trail keeps no whole number")
        self.assertRegex(json.loads(rows[0][1])["caller"], r"^09\d\*+\d\d$")

        self.assertEqual(js("find", "--caller", "0123", who="mai"),
                         {"caller": "0123", "total": 0, "cases": [],
                          "labels": found["labels"]})
        self.assertEqual(ok("find", "--caller", "0123", who="mai"), "caller 0123: 0 cases\n")

    @unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
    def test_refusals(self):
        refused(hotline("find", "--caller", "0912345678", who="lan"), 1,
                "find needs the supervisor role; lan is operator")
        for bad in ("abc", "09-12a", "12", "+", "1" * 21, "09+12345", "0912 345 678 x"):
            refused(hotline("find", "--caller", bad), 2, "must be a phone number")
        refused(hotline("find"), 2, "usage: hotline111 find --caller NUMBER [--limit N]")
        refused(hotline("find", "--caller", "0912345678", "--limit", "0"), 2, "1..1000")
        for bad in ({"cmd": "find"}, {"cmd": "find", "caller": 912345678},
                    {"cmd": "find", "caller": "09123456789" * 6},
                    {"cmd": "find", "caller": "0912' OR ''='"},
                    {"cmd": "find", "caller": "\u0660\u0669\u0661\u0662"},
                    {"cmd": "find", "caller": "0912345678", "limit": 1001}):
            reply = raw(bad)[0]
            self.assertEqual((reply["ok"], reply["error"]), (False, "bad_request"), bad)


@unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
class Assign(unittest.TestCase):
    def test_the_previous_owner_is_told(self):
        case = ticket("con bị bố đánh hôm qua")
        ok("claim", str(case), who="lan")
        lan, hoa, admin = Tail("lan"), Tail("hoa"), Tail()
        human = Tail("lan", json_out=False)
        try:
            self.assertEqual(js("assign", str(case), "hoa", who="mai"),
                             {"case": case, "operator": "hoa", "previous": "lan"})
            told = lan.alert(notice_for(case, "lan"))["notice"]
            self.assertEqual({k: told[k] for k in ("change", "by", "operator", "previous")},
                             {"change": "assign", "by": "mai", "operator": "hoa",
                              "previous": "lan"})
            self.assertEqual(hoa.alert(notice_for(case, "hoa"))["notice"]["previous"], "lan")
            # the case alert every tail sees, then the notice (one transaction's
            # notifications arrive in the order it sent them)
            self.assertRegex(human.expect(lambda x: " assigned to " in x),
                             r"^\d\d:\d\d:\d\d case %d P2 \S+ assigned to hoa by mai$" % case)
            self.assertRegex(human.expect(lambda x: "NOTICE" in x),
                             r"^\d\d:\d\d:\d\d NOTICE case %d P2 \S+ is no longer yours: "
                             r"assigned to hoa by mai$" % case)
            seen = admin.alert(lambda a: a.get("alert") == "case" and a["case"]["case"] == case
                               and a["case"]["change"] == "assign")
            self.assertEqual((seen["case"]["operator"], seen["case"]["by"]), ("hoa", "mai"))
            self.assertEqual(admin.notices(), [], "a notice goes to its operator's consoles only")
            self.assertEqual(audit(case, "case.assign"),
                             [("console:mai", {"operator": "lan"}, {"operator": "hoa"})])
            self.assertEqual(js("show", str(case))["case"]["operator"], "hoa")

            # A claim that takes the case over tells its owner too.
            ok("claim", str(case), who="mai")
            told = hoa.alert(notice_for(case, "hoa"))["notice"]
            self.assertEqual((told["change"], told["by"], told["operator"]),
                             ("claim", "mai", "mai"))
            self.assertEqual(audit(case, "case.claim")[-1],
                             ("console:mai", {"operator": "hoa"}, {"operator": "mai"}))
            # ... and a release by someone else than its owner.
            ok("assign", str(case), "lan", who="mai")
            self.assertRegex(human.expect(lambda x: "NOTICE" in x and "yours now" in x),
                             r"NOTICE case %d P2 \S+ is yours now: assigned by mai$" % case)
            ok("release", str(case))
            told = lan.alert(lambda a: notice_for(case, "lan")(a)
                             and a["notice"]["change"] == "release")["notice"]
            self.assertEqual((told["by"], told["operator"]), (ME, None))
            self.assertRegex(human.expect(lambda x: "released" in x and "NOTICE" in x),
                             r"NOTICE case %d P2 \S+ is no longer yours: released by %s$"
                             % (case, ME))
            # Claiming one's own case, or a free one, tells nobody.
            ok("claim", str(case), who="lan")
            self.assertEqual([n for n in lan.notices() if n["change"] == "claim"], [])
        finally:
            for t in (lan, hoa, admin, human):
                t.stop()

    def test_refusals(self):
        case = ticket()
        refused(hotline("assign", str(case), "hoa", who="lan"), 1,
                "assign needs the supervisor role; lan is operator")
        refused(hotline("assign", str(case), "tuan", who="mai"), 1,
                'no console operator named "tuan"')
        refused(hotline("assign", "987654321", "hoa", who="mai"), 1, "case 987654321 not found")
        ok("assign", str(case), "hoa", who="mai")
        refused(hotline("assign", str(case), "hoa", who="mai"), 1, "is hoa's already")
        ok("close", str(case), "--outcome", "resolved")
        refused(hotline("assign", str(case), "lan", who="mai"), 1, "closed")
        refused(hotline("assign", str(case)), 2, "usage: hotline111 assign CASE OPERATOR")
        refused(hotline("assign", "x", "lan"), 2, "positive integer")
        refused(hotline("assign", str(case), "lan", "hoa"), 2, "unexpected argument")
        for bad in ({"cmd": "assign", "case": case}, {"cmd": "assign", "operator": "lan"},
                    {"cmd": "assign", "case": case, "operator": 7},
                    {"cmd": "assign", "case": case, "operator": ""},
                    {"cmd": "assign", "case": "1", "operator": "lan"}):
            reply = raw(bad)[0]
            self.assertEqual((reply["ok"], reply["error"]), (False, "bad_request"), bad)
        self.assertEqual(raw({"cmd": "assign", "case": case, "operator": "lan' --"})[0]["error"],
                         "not_found")
        self.assertEqual(len(audit(case, "case.assign")), 1, "only the assignment made")


class Escalations(unittest.TestCase):
    def test_unacknowledged_oldest_first_then_all(self):
        first = ticket()
        second = ticket()
        called = call("+84911222333")
        ids = {}
        for case in (first, second, called):
            ids[case] = int(wait_for(lambda: pg.query(
                "SELECT id FROM escalations WHERE case_id = :'p1' AND kind = 'escalation'",
                case))[0][0])
        listed = js("escalations")
        rows = listed["escalations"]
        self.assertEqual(listed["unacked"], len(rows))
        self.assertFalse(listed["all"])
        self.assertEqual([r["fired_at"] for r in rows], sorted(r["fired_at"] for r in rows),
                         "oldest first")
        self.assertLess([r["escalation"] for r in rows].index(ids[first]),
                        [r["escalation"] for r in rows].index(ids[second]))
        mine = [r for r in rows if r["escalation"] == ids[first]][0]
        self.assertEqual(set(mine), {
            "escalation", "case", "kind", "deadline", "level", "priority", "category", "rules",
            "due", "fired_at", "age_s", "late_ms", "acked_at", "acked_by", "status", "operator",
            "province", "caller"})
        self.assertEqual((mine["case"], mine["kind"], mine["deadline"], mine["level"],
                          mine["category"], mine["acked_at"]),
                         (first, "escalation", "claim", 1, "info", None))
        self.assertIsNone(mine["caller"])
        self.assertEqual([r["caller"] for r in rows if r["escalation"] == ids[called]],
                         ["+849******33"], "masked as the escalation log masks it")
        self.assertEqual(listed["labels"]["info"], LABELS["info"])

        human = ok("escalations").splitlines()
        self.assertRegex(human[0], r"^\d+ escalations? not acknowledged, oldest first$")
        self.assertEqual(human[1].split()[:3], ["ESC", "FIRED", "AGE"])
        line = [x for x in human if x.startswith("#%d " % ids[first])
                or x.lstrip().startswith("#%d " % ids[first])][0]
        self.assertRegex(line, r"#%d +\d{4}-\d\d-\d\d \d\d:\d\d +\d+[smhd]\S* +%d +P4 +info +claim "
                         r"+L1 +- +- +%s$" % (ids[first], first, LABELS["info"]))

        ok("ack", str(ids[first]))
        self.assertNotIn(ids[first], [r["escalation"] for r in js("escalations")["escalations"]])
        every = js("escalations", "--all")
        acked = [r for r in every["escalations"] if r["escalation"] == ids[first]][0]
        self.assertEqual(acked["acked_by"], "console:" + ME)
        self.assertTrue(every["all"])
        fired = [r["fired_at"] for r in every["escalations"]]
        self.assertEqual(fired, sorted(fired), "the latest ones, in the order they fired")
        last = js("escalations", "--all", "--limit", "1")["escalations"]
        self.assertEqual(len(last), 1)
        self.assertEqual(last[0]["escalation"], max(r["escalation"] for r in every["escalations"]),
                         "--all --limit 1: the latest")
        self.assertRegex(ok("escalations", "--all").splitlines()[0],
                         r"^the latest \d+ escalations, \d+ not acknowledged in all$")
        oldest = js("escalations", "--limit", "1")
        if oldest["unacked"] > 1:
            self.assertEqual(ok("escalations", "--limit", "1").splitlines()[-1],
                             "... and %d more: see --limit" % (oldest["unacked"] - 1))

    def test_bad_input(self):
        for args in (["--limit", "0"], ["--limit", "1001"], ["--limit", "x"], ["--all=1"],
                     ["7"]):
            self.assertEqual(hotline("escalations", *args).returncode, 2, args)
        for bad in ({"cmd": "escalations", "all": "yes"}, {"cmd": "escalations", "limit": 0},
                    {"cmd": "escalations", "limit": 1001}, {"cmd": "escalations", "limit": "5"}):
            reply = raw(bad)[0]
            self.assertEqual((reply["ok"], reply["error"]), (False, "bad_request"), bad)

    @unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
    def test_operators_may_list_them(self):
        self.assertIn("escalations", js("escalations", who="lan"))


@unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
class ShowMasks(unittest.TestCase):
    def test_whole_for_owner_and_supervisors_masked_for_others(self):
        number = "+84912%06d" % (os.getpid() % 1000000)
        masked = number[:4] + "*" * (len(number) - 6) + number[-2:]
        case = call(number)
        ok("claim", str(case), who="lan")
        seen = {who: js("show", str(case), who=who)["case"]["caller"]
                for who in ("lan", "hoa", "mai", None)}
        self.assertEqual(seen, {"lan": number, "hoa": masked, "mai": number, None: number})
        human = ok("show", str(case), who="hoa")
        self.assertIn("  caller        %s\n" % masked, human)
        self.assertNotIn(number[4:], human)
        ok("assign", str(case), "hoa", who="mai")
        self.assertEqual(js("show", str(case), who="hoa")["case"]["caller"], number,
                         "the new owner may call back")
        self.assertEqual(js("show", str(case), who="lan")["case"]["caller"], masked)
        ok("release", str(case), who="mai")
        self.assertEqual(js("show", str(case), who="hoa")["case"]["caller"], masked,
                         "an unclaimed case: masked for operators")


class Labels(unittest.TestCase):
    def test_show_and_report(self):
        case = ticket(DROWNING)
        self.assertRegex(ok("show", str(case)).splitlines()[0],
                         r"^case %d  P1!!  drowning \(Đuối nước\)  open  unclaimed$" % case)
        shown = js("show", str(case))
        self.assertEqual((shown["case"]["category"], shown["labels"]["drowning"]),
                         ("drowning", LABELS["drowning"]))
        report = ok("report", "--from", "2000-01-01", "--to", "2099-12-31")
        self.assertRegex(report, r"\nCATEGORY +CASES  LABEL\n")
        self.assertRegex(report, r"\ndrowning +\d+  Đuối nước\n")
        self.assertRegex(report, r"\nPROVINCE +CASES\n", "provinces have no label")
        # the whole century: "today" is the hotline's day, not this machine's
        rep = js("report", "--from", "2000-01-01", "--to", "2099-12-31")
        self.assertEqual(rep["labels"]["abuse.sexual"], LABELS["abuse.sexual"])
        self.assertIn("drowning", rep["cases"]["by_category"], "--json keeps the ids")
        self.assertEqual(js("report", "--triage")["labels"], rep["labels"])


class Documented(unittest.TestCase):
    def test_every_command_in_the_man_page_and_the_protocol(self):
        with open(os.path.join(TOP, "man", "hotline111.1"), encoding="utf-8") as f:
            man = f.read()
        with open(os.path.join(TOP, "doc", "console-protocol.md"), encoding="utf-8") as f:
            proto = f.read()
        names = [c["name"] for c in js("help")["commands"]]
        for name in ("assign", "find", "escalations"):
            self.assertIn(name, names)
        for name in names:
            self.assertRegex(man, r"(?m)^\.BI? \"?%s\b" % name, "hotline111(1) COMMANDS")
            self.assertIn("- `%s` — " % name, proto, "doc/console-protocol.md")
        for flag in ("operator", "province", "category", "unanswered", "caller", "limit", "all"):
            self.assertIn("\\-\\-" + flag, man, flag)


if __name__ == "__main__":
    unittest.main(verbosity=2)
