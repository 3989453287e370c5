"""The console end to end: the real hotline111d, the real hotline111
program and a bridge client, against a private PostgreSQL. The queue's
order, the claim / note / close flow, triage of a note, roles (operators
as other Unix users, through SO_PEERCRED), the audit trail, tail with
escalations and case changes, two daemons on one database, bad requests
straight on the socket, and the program's exit statuses. A scripted fake
daemon checks what the program sends and how it takes a daemon that
misbehaves."""
import json
import os
import pwd
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import wait_for, BUILD, Client, Daemon, Postgres, send_event, system_user  # noqa: E402

CLIENT = os.path.join(BUILD, "src", "hotline111")
OPERATOR, SUPERVISOR = "h111op", "h111sup"  # system users the role tests run as
ROOT = os.getuid() == 0
ME = pwd.getpwuid(os.getuid()).pw_name if not ROOT else "root"  # admin: the daemon's own user
FAST = ["escalation.warn=0", "escalation.repeat=600",
        "escalation.p4={ answer = 1; claim = 2; act = 600; }"]
LOG_KEYS = ["ts", "kind", "escalation", "case", "priority", "category", "deadline", "level",
            "due", "late_ms", "caller", "rules"]
ROW_KEYS = {"case", "priority", "category", "status", "opened_at", "age_s", "operator", "held",
            "next", "escalations", "rules", "province", "caller"}
QUEUE_HEAD = ["CASE", "PRI", "CATEGORY", "AGE", "NEXT", "OPERATOR", "ESC", "WHY", "ASK", "LABEL"]
DROWNING = "bé đang đuối nước"
INFO = "cho hỏi thông tin"

pg = daemon = None
users = {}


def operators_setting():
    ops = ['{ name = "lan"; uid = %d; role = "operator"; }' % users.get(OPERATOR, 99990),
           '{ name = "mai"; uid = %d; role = "supervisor"; }' % users.get(SUPERVISOR, 99991)]
    return "console.operators=( %s )" % ", ".join(ops)


def start_daemon():
    d = Daemon(pg, sets=FAST + [operators_setting()])
    os.chmod(d.dir, 0o755)  # the operators' users reach the socket through it
    d.console = os.path.join(d.dir, "console.sock")
    d.start()
    # Ready when the console says its database is up (its connection is its own);
    # until then status exits 5, failing, and that is an answer.
    wait_for(lambda: d.status()["database"] == "up")
    return d


def setUpModule():
    global pg, daemon
    if ROOT:
        users[OPERATOR] = system_user(OPERATOR)
        users[SUPERVISOR] = system_user(SUPERVISOR)
    pg = Postgres()
    daemon = start_daemon()


def tearDownModule():
    if daemon:
        daemon.destroy()
    if pg:
        pg.destroy()


def hotline(*args, sock=None, user=None, env=None):
    """Runs the console program; as another Unix user when user is given."""
    cmd = [CLIENT, *(["-S", sock or daemon.console] if sock is not False else []), *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)


def ok(*args, **kw):
    r = hotline(*args, **kw)
    if r.returncode != 0:
        raise AssertionError("hotline111 %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                             r.stderr))
    return r.stdout


def js(*args, **kw):
    return json.loads(ok("--json", *args, **kw))


_seq = [0]


def bridge_event(type, **fields):
    """One bridge event on the first daemon; its ack."""
    return send_event(daemon.bridge, "con", type, **fields)


def new_case(text=INFO, **fields):
    _seq[0] += 1
    return bridge_event("ticket.created", ticket_id="ct-%d-%d" % (os.getpid(), _seq[0]),
                        text=text, **fields)["case"]


class Tail:
    """hotline111 tail in the background; its lines collected by threads."""

    def __init__(self, *args, sock=None):
        self.proc = subprocess.Popen([CLIENT, "-S", sock or daemon.console, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines, self.errors, self.seen = queue.Queue(), queue.Queue(), []
        for pipe, q in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors)):
            threading.Thread(target=self._pump, args=(pipe, q), daemon=True).start()

    @staticmethod
    def _pump(pipe, q):
        for line in pipe:
            q.put(line.rstrip("\n"))

    def expect(self, pred, timeout=10, q=None):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            try:
                line = (q or self.lines).get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError("tail: nothing matching in %ss; saw %r; exit %r" %
                                     (timeout, self.seen, self.proc.poll()))
            self.seen.append(line)
            if pred(line):
                return line

    def ready_json(self):
        self.expect(lambda line: json.loads(line) == {"tailing": True})
        return self

    def ready_human(self):
        self.expect(lambda line: "tailing" in line, q=self.errors)
        return self

    def alert(self, pred, timeout=10):
        return json.loads(self.expect(lambda line: pred(json.loads(line)), timeout))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def who(actor):
    """The operator of an audit row's actor, which says it came from the console."""
    assert actor.startswith("console:"), actor
    return actor[len("console:"):]


def logged(d, escalation):
    """The escalation log's records of one escalation."""
    path = os.path.join(d.dir, "escalations.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [r for r in map(json.loads, f) if r["escalation"] == escalation]


def case_alert(case, change):
    return lambda a: (a.get("alert") == "case" and a["case"]["case"] == case
                      and a["case"]["change"] == change)


def escalation_alert(case):
    return lambda a: a.get("alert") == "escalation" and a["escalation"]["case"] == case


class Console(unittest.TestCase):
    def test_queue_order(self):
        p4 = new_case()
        p1 = new_case(DROWNING)
        old3 = new_case()  # opened first, but with the farther deadline (claim)
        young3 = bridge_event("call.offered", call_id="q3-%d" % os.getpid())["case"]
        for c in (old3, young3):
            js("set", str(c), "priority=3")
        rows = js("queue")["cases"]
        ours = [r["case"] for r in rows if r["case"] in (p4, p1, old3, young3)]
        self.assertEqual(ours, [p1, young3, old3, p4],
                         "P1 first; within P3 the nearer deadline (answer) before the older case")
        prios = [r["priority"] for r in rows]
        self.assertEqual(prios, sorted(prios), "ordered by priority")
        self.assertEqual(set(rows[0]), ROW_KEYS | (set(rows[0]) - ROW_KEYS))
        for r in rows:
            self.assertTrue(ROW_KEYS <= set(r), set(r) ^ ROW_KEYS)
        only3 = [r["case"] for r in js("queue", "--priority", "3")["cases"]]
        self.assertEqual([c for c in only3 if c in (old3, young3)], [young3, old3])
        self.assertNotIn(p1, only3)

        out = ok("queue").splitlines()
        self.assertEqual(out[0].split(), QUEUE_HEAD, "columns are an interface: never reorder")
        for line in out:
            self.assertLessEqual(len(line), 100, line)
        p1_line = [x for x in out if x.split()[0] == str(p1)][0]
        self.assertRegex(p1_line, r"^\s*%d P1!! drowning +\d+s +(answer|claim) -?\d+:\d\d " % p1)
        self.assertIn("drowning-in-water", p1_line)
        p4_line = [x for x in out if x.split()[0] == str(p4)][0]
        self.assertRegex(p4_line, r" P4 +info ")

    def test_claim_note_close(self):
        case = new_case()
        self.assertEqual(ok("claim", str(case)), "case %d claimed by %s\n" % (case, ME))
        self.assertIn(case, [r["case"] for r in js("queue", "--mine")["cases"]])
        noted = js("note", str(case), *DROWNING.split())
        self.assertEqual((noted["case"], noted["priority"], noted["category"]),
                         (case, 1, "drowning"), "the note raised the case to P1")
        self.assertIn("drowning-in-water", noted["rules"])
        human = ok("note", str(case), "gia", "đình", "đang", "tìm")
        self.assertRegex(human, r"^case %d note added: P1!! drowning because .*drowning-in-water"
                         % case)
        shown = ok("show", str(case))
        self.assertRegex(shown, r"^case %d  P1!!  drowning \(Đuối nước\)  open  operator %s\n"
                         % (case, ME), "the category's label from the rules file beside its id")
        self.assertIn("      " + DROWNING + "\n", shown, "the note's text")
        self.assertRegex(shown, r"P4 -> P1  drowning  because [^\n]*drowning-in-water",
                         "the triage decision says why")
        self.assertIn("\n      drowning-in-water: duoi nuoc\n", shown,
                      "each fired rule with the words it matched")
        full = js("show", str(case))
        self.assertEqual([n["text"] for n in full["notes"]], [DROWNING, "gia đình đang tìm"])
        fired = [t for t in full["triage"] if "drowning-in-water" in t["rules"]][0]
        self.assertEqual(fired["why"]["drowning-in-water"], "duoi nuoc", "stored with the decision")
        self.assertEqual(pg.scalar(
            "SELECT why->>'drowning-in-water' FROM triage WHERE case_id = :'p1' "
            "AND why ? 'drowning-in-water'", case), "duoi nuoc")
        self.assertEqual(full["case"]["operator"], ME)

        self.assertEqual(ok("close", str(case), "--outcome", "referred", "--referred-to",
                            "Công an xã Tân Lập"), "case %d closed: referred\n" % case)
        again = hotline("close", str(case), "--outcome", "resolved")
        self.assertEqual(again.returncode, 1)
        self.assertRegex(again.stderr, r"^hotline111: .*closed.*\n$")
        self.assertNotIn(case, [r["case"] for r in js("queue")["cases"]])
        self.assertEqual(pg.query("SELECT status, outcome, referred_to FROM cases WHERE id = %d"
                                  % case), [["closed", "referred", "Công an xã Tân Lập"]])
        rows = pg.query("SELECT actor, peer, action, after FROM audit WHERE case_id = %d AND "
                        "action LIKE 'case.%%' ORDER BY id" % case)
        self.assertEqual([r[2] for r in rows], ["case.claim", "case.note", "case.note",
                                                "case.close"])
        for actor, peer, _, _ in rows:
            self.assertEqual(who(actor), ME)
            self.assertRegex(peer, r"\buid %d\b" % os.getuid())
        self.assertEqual(json.loads(rows[-1][3])["referred_to"], "Công an xã Tân Lập")

    def test_set_hold_resume_release_as_admin(self):
        case = new_case()
        self.assertRegex(ok("set", str(case), "category=neglect", "priority=2"),
                         r"^case %d set: P2 neglect\n$" % case)
        self.assertEqual(ok("hold", str(case), "--reason", "chờ công an xã"),
                         "case %d held: its act and plan clocks are paused\n" % case)
        row = [r for r in js("queue")["cases"] if r["case"] == case][0]
        self.assertTrue(row["held"])
        self.assertIn(" held ", [x for x in ok("queue").splitlines()
                                 if x.split()[0] == str(case)][0])
        self.assertEqual(ok("resume", str(case)), "case %d resumed\n" % case)
        ok("claim", str(case))
        self.assertEqual(ok("release", str(case)), "case %d released\n" % case)
        self.assertEqual(js("release", str(case)), {"case": case, "operator": None})

    @unittest.skipUnless(ROOT, "role tests run the console as other Unix users: run as root")
    def test_roles(self):
        case = new_case("con bị bố đánh hôm qua")
        self.assertEqual(js("show", str(case))["case"]["priority"], 2)

        lowered = hotline("set", str(case), "priority=4", user=OPERATOR)
        self.assertEqual(lowered.returncode, 1, "an operator cannot lower a priority")
        self.assertRegex(lowered.stderr, r"^hotline111: .*supervisor.*\n$")
        raised = hotline("--json", "set", str(case), "priority=1", user=OPERATOR)
        self.assertEqual((raised.returncode, json.loads(raised.stdout)["priority"]), (0, 1),
                         "raising is open to operators")
        for args in (["hold", str(case), "--reason", "x"], ["resume", str(case)],
                     ["ack", "1"], ["reload"]):
            r = hotline(*args, user=OPERATOR)
            self.assertEqual(r.returncode, 1, args)
            self.assertRegex(r.stderr, r"^hotline111: .*needs the supervisor role.*\n$", args)

        no_reason = hotline("set", str(case), "priority=3", user=SUPERVISOR)
        self.assertEqual(no_reason.returncode, 1, "lowering needs --reason")
        self.assertIn("reason", no_reason.stderr)
        ok("set", str(case), "priority=3", "--reason", "gọi lại: trẻ đã an toàn", user=SUPERVISOR)
        ok("hold", str(case), "--reason", "chờ xã xác minh", user=SUPERVISOR)
        ok("resume", str(case), "--reason", "xã đã trả lời", user=SUPERVISOR)

        self.assertEqual(ok("claim", str(case), user=OPERATOR), "case %d claimed by lan\n" % case)
        taken = hotline("claim", str(case), user=SUPERVISOR)
        self.assertEqual(taken.returncode, 0, "a supervisor may take a case over")
        stolen = hotline("release", str(case), user=OPERATOR)
        self.assertEqual(stolen.returncode, 1, "only its owner or a supervisor releases it")
        self.assertIn("mai", stolen.stderr)

        p4 = new_case()
        esc = int(wait_for(lambda: pg.query("SELECT id FROM escalations WHERE case_id = %d AND "
                                            "kind = 'escalation'" % p4))[0][0])
        self.assertEqual(js("ack", str(esc), user=SUPERVISOR),
                         {"escalation": esc, "case": p4, "deadline": "claim"})
        twice = hotline("ack", str(esc), user=SUPERVISOR)
        self.assertEqual(twice.returncode, 1)
        self.assertRegex(twice.stderr, r"^hotline111: .*acknowledged.*mai.*\n$")

        rows = pg.query("SELECT actor, peer, action, before, after FROM audit WHERE case_id = %d "
                        "AND action LIKE 'case.%%' ORDER BY id" % case)
        by_action = {}
        for actor, peer, action, before, after in rows:
            by_action.setdefault(action, []).append(
                (actor, peer, json.loads(before) if before else None,
                 json.loads(after) if after else None))
        sets = by_action["case.set"]
        self.assertEqual([(who(s[0]), s[2]["priority"], s[3]["priority"]) for s in sets],
                         [("lan", 2, 1), ("mai", 1, 3)])
        self.assertEqual(sets[1][3]["reason"], "gọi lại: trẻ đã an toàn")
        self.assertRegex(sets[0][1], r"\buid %d\b" % users[OPERATOR], "the peer is recorded")
        self.assertEqual([who(a[0]) for a in by_action["case.hold"] + by_action["case.resume"]],
                         ["mai", "mai"])
        self.assertEqual([(who(a[0]), a[3]["operator"]) for a in by_action["case.claim"]],
                         [("lan", "lan"), ("mai", "mai")])
        acks = pg.query("SELECT actor, peer FROM audit WHERE action = 'escalation.ack' AND "
                        "case_id = %d" % p4)
        self.assertEqual(len(acks), 1)
        self.assertEqual(who(acks[0][0]), "mai")

    @unittest.skipUnless(ROOT, "needs a user that is not a console operator: run as root")
    def test_unknown_uid_is_refused(self):
        r = hotline("status", user="nobody")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^hotline111: uid \d+ .*not a console operator.*\n$")

    def test_tail_escalation_and_case_change(self):
        everything = Tail("--json", "tail").ready_json()
        escalations = Tail("--json", "tail", "--escalations").ready_json()
        human = Tail("tail").ready_human()
        try:
            case = new_case()
            everything.alert(case_alert(case, "event"))
            alert = everything.alert(escalation_alert(case))["escalation"]
            self.assertEqual(list(alert), LOG_KEYS, "exactly the escalation log record")
            self.assertEqual((alert["deadline"], alert["level"], alert["kind"]),
                             ("claim", 1, "escalation"))
            self.assertEqual(wait_for(lambda: logged(daemon, alert["escalation"])), [alert])
            line = human.expect(lambda x: " case %d " % case in x and "ESCALATION" in x)
            self.assertRegex(line, r"^\d\d:\d\d:\d\d ESCALATION L1 case %d P4 info claim "
                             r"\(\d+(\.\d)? m?s late\) caller - \[info-request\] #%d$"
                             % (case, alert["escalation"]))

            ok("claim", str(case))
            claim = everything.alert(case_alert(case, "claim"))["case"]
            self.assertEqual((claim["by"], claim["operator"], claim["status"]),
                             (ME, ME, "open"))
            self.assertRegex(human.expect(lambda x: "claimed" in x),
                             r"^\d\d:\d\d:\d\d case %d P4 info claimed by %s$" % (case, ME))
            escalations.alert(escalation_alert(case))
            ok("close", str(case), "--outcome", "counselled")
            everything.alert(case_alert(case, "close"))
            self.assertRegex(human.expect(lambda x: "closed" in x),
                             r"^\d\d:\d\d:\d\d case %d P4 info closed by %s$" % (case, ME))
            time.sleep(0.3)
            while not escalations.lines.empty():
                escalations.seen.append(escalations.lines.get())
            self.assertEqual([x for x in escalations.seen if json.loads(x).get("alert") == "case"],
                             [], "--escalations: no case alerts")
        finally:
            for t in (everything, escalations, human):
                t.stop()

    def test_two_daemons_see_each_others_changes(self):
        other = start_daemon()
        try:
            tail = Tail("--json", "tail", sock=other.console).ready_json()
            try:
                case = new_case(DROWNING)  # through the first daemon's bridge
                seen = tail.alert(case_alert(case, "event"))["case"]
                self.assertEqual((seen["priority"], seen["category"]), (1, "drowning"))
                ok("claim", str(case))  # through the first daemon's console
                self.assertEqual(tail.alert(case_alert(case, "claim"))["case"]["by"], ME)
                # ... and the other way round.
                ok("note", str(case), "đã", "gọi", "công", "an", sock=other.console)
                tail.alert(case_alert(case, "note"))
                other.destroy()
                # tail waits for its daemon to come back (test_metrics.py restarts one)
                self.assertTrue(tail.expect(lambda x: "tailing" not in x, q=tail.errors)
                                .startswith("hotline111: the daemon closed the connection; "
                                            "reconnecting to "))
                time.sleep(0.5)
                self.assertIsNone(tail.proc.poll(), "tail does not end when its daemon goes")
            finally:
                tail.stop()
        finally:
            other.destroy()

    def test_bad_requests_on_the_socket(self):
        c = Client(daemon.console)
        self.assertEqual(c.greeting, {"hello": "hotline111-console", "proto": 1,
                                      "operator": ME, "role": "admin"})

        def refused(reply, code):
            self.assertEqual((reply["ok"], reply["error"]), (False, code), reply)
            self.assertTrue(reply["detail"])
            return reply

        self.assertEqual(refused(c.call({"cmd": "frobnicate", "id": 7}), "unknown_command")["id"],
                         7)
        c.send_raw(b'{"cmd": "queue",\n')
        refused(c.recv(), "bad_request")
        c.send_raw(b"\xff\xfe not utf-8\n")
        refused(c.recv(), "bad_request")
        c.send_raw(b"[1, 2]\n")
        refused(c.recv(), "bad_request")
        c.send_raw(b'{"cmd": "note", "case": 1, "text": "' + b"x" * 70000 + b'"}\n')
        refused(c.recv(), "too_long")
        for bad in ({"cmd": 42}, {"id": 1}, {"cmd": "show", "case": "1"}, {"cmd": "show"},
                    {"cmd": "show", "case": -3}, {"cmd": "show", "case": 1.5},
                    {"cmd": "queue", "priority": 9}, {"cmd": "queue", "mine": "yes"},
                    {"cmd": "tail", "escalations": 1}, {"cmd": "note", "case": 1, "text": 5},
                    {"cmd": "note", "case": 1, "text": ""}, {"cmd": "set", "case": 1},
                    {"cmd": "close", "case": 1, "outcome": "lost"},
                    {"cmd": "close", "case": 1, "outcome": "referred"},
                    {"cmd": "report", "from": "2026-02-30", "to": "2026-03-01"},
                    {"cmd": "ack", "escalation": "x"}):
            refused(c.call(bad), "bad_request")
        refused(c.call({"cmd": "show", "case": 99999999}), "not_found")
        # Pipelined: replies in request order, each with its id.
        c.send_raw(b'{"cmd":"status","id":"a"}\n{"cmd":"nope","id":["b"]}\n'
                   b'{"cmd":"queue","id":{"c":3}}\n')
        self.assertEqual([c.recv()["id"] for _ in range(3)], ["a", ["b"], {"c": 3}])
        self.assertTrue(c.call({"cmd": "status"})["ok"], "the connection goes on")
        c.close()
        self.assertIsNone(daemon.proc.poll(), "the daemon goes on")
        self.assertEqual(js("status")["database"], "up")

    def test_help_and_usage_agree(self):
        names = [c["name"] for c in js("help")["commands"]]
        usage = ok("--help", sock=False)
        listed = re.findall(r"^  (\w+)", usage.split("commands:")[1], re.M)
        self.assertEqual(sorted(listed), sorted(names), "the program and the daemon know the "
                         "same commands")
        human = ok("help")
        self.assertNotIn("does not", human)
        for n in names:
            self.assertIn("hotline111 " + n, human)
        self.assertIn("hotline111 close CASE --outcome referred|counselled|resolved|no_action|"
                      "duplicate [--referred-to ORG]", human)

    def test_report_and_status(self):
        day = time.strftime("%Y-%m-%d")
        rep = js("report", "--from", "2000-01-01", "--to", "2099-12-31")
        self.assertEqual(set(rep), {"from", "to", "calls", "cases", "labels"})
        self.assertEqual(set(rep["calls"]), {"received", "answered", "abandoned",
                                             "answered_within_20s"})
        self.assertTrue({"opened", "referred", "closed", "by_category", "by_province"}
                        <= set(rep["cases"]))
        self.assertEqual((rep["from"], rep["to"]), ("2000-01-01", "2099-12-31"))
        human = ok("report", "--from", day, "--to", day)
        self.assertRegex(human, r"^period +%s to %s\n" % (day, day))
        st = js("status")
        for key in ("version", "pid", "uptime_s", "database", "bridge_clients", "consoles",
                    "pending_deadlines", "unacked_escalations", "today"):
            self.assertIn(key, st)
        self.assertEqual(st["pid"], daemon.proc.pid)
        self.assertRegex(ok("status"), r"(?m)^database +up$")

    def test_reload(self):
        self.assertRegex(ok("reload"), r"^rules reloaded: \d+ rules\n$")
        self.assertGreater(js("reload")["rules"], 10)

    def test_exit_statuses(self):
        self.assertEqual(hotline("status").returncode, 0)
        missing = hotline("show", "987654321")
        self.assertEqual((missing.returncode, missing.stderr),
                         (1, "hotline111: case 987654321 not found\n"))
        nowhere = os.path.join(daemon.dir, "nowhere.sock")
        for args in (["show", "abc"], ["show", "0"], ["show"], ["show", "1", "2"],
                     ["queue", "--priority", "5"], ["queue", "--bogus"],
                     ["report", "--from", "2026-13-01", "--to", "2026-12-01"],
                     ["report", "--from", "2026-12-02", "--to", "2026-12-01"],
                     ["close", "1", "--outcome", "lost"], ["close", "1", "--outcome", "referred"],
                     ["set", "1"], ["set", "1", "priority=0"], ["hold", "1"], ["note", "1"],
                     ["frobnicate"], []):
            r = hotline(*args, sock=nowhere)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertRegex(r.stderr, r"^hotline111: [^\n]+\n$", args)
        r = hotline("status", sock=nowhere)
        self.assertEqual(r.returncode, 3)
        self.assertRegex(r.stderr, r"^hotline111: cannot connect to %s: No such file" % nowhere)
        env = dict(os.environ, HOTLINE111_SOCKET=nowhere)
        r = hotline("status", sock=False, env=env)
        self.assertEqual(r.returncode, 3)
        self.assertIn(nowhere, r.stderr)
        with socket.socket(socket.AF_UNIX) as s:  # bound, nobody listening
            s.bind(nowhere)
            r = hotline("status", sock=nowhere)
            self.assertEqual(r.returncode, 3)
            self.assertIn("Connection refused", r.stderr)
        os.unlink(nowhere)
        env = dict(os.environ, HOTLINE111_SOCKET=daemon.console)
        self.assertEqual(hotline("status", sock=False, env=env).returncode, 0)


class FakeDaemon:
    """A scripted console socket: a greeting, then one reply per request."""

    def __init__(self, greeting=b'{"hello":"hotline111-console","proto":1,"operator":"root",'
                 b'"role":"admin"}\n', reply=None, close=True):
        self.dir = tempfile.mkdtemp(prefix="h111fake-")
        self.path = os.path.join(self.dir, "console.sock")
        self.requests = []
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.srv.settimeout(10)
        self.thread = threading.Thread(target=self.serve, args=(greeting, reply, close),
                                       daemon=True)
        self.thread.start()

    def serve(self, greeting, reply, close):
        conn, _ = self.srv.accept()
        with conn:
            conn.settimeout(10)
            conn.sendall(greeting)
            if reply is None:
                return
            buf = b""
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            self.requests.append(json.loads(buf.split(b"\n")[0]))
            conn.sendall(reply)
            if not close:
                time.sleep(3)

    def run(self, *args):
        r = hotline(*args, sock=self.path)
        self.thread.join(10)
        self.srv.close()
        os.unlink(self.path)
        os.rmdir(self.dir)
        return r


class Program(unittest.TestCase):
    """What the program sends, and how it takes a daemon it cannot trust."""

    def sent(self, *args, result=b"{}"):
        fake = FakeDaemon(reply=b'{"id":1,"ok":true,"result":' + result + b"}\n")
        r = fake.run("--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        req = fake.requests[0]
        self.assertEqual(req.pop("id"), 1)
        return req

    def test_requests(self):
        self.assertEqual(self.sent("queue", "--mine", "--priority", "1"),
                         {"cmd": "queue", "mine": True, "priority": 1})
        self.assertEqual(self.sent("note", "12", "bé", "đang", "--đuối", "nước"),
                         {"cmd": "note", "case": 12, "text": "bé đang --đuối nước"})
        self.assertEqual(self.sent("set", "3", "priority=2", "category=drowning", "--reason",
                                   "gọi lại"),
                         {"cmd": "set", "case": 3, "priority": 2, "category": "drowning",
                          "reason": "gọi lại"})
        self.assertEqual(self.sent("close", "--outcome=referred", "4", "--referred-to", "xã"),
                         {"cmd": "close", "case": 4, "outcome": "referred", "referred_to": "xã"})
        self.assertEqual(self.sent("ack", "88"), {"cmd": "ack", "escalation": 88})
        self.assertEqual(self.sent("report", "--from", "2026-11-01", "--to", "2026-11-30"),
                         {"cmd": "report", "from": "2026-11-01", "to": "2026-11-30"})
        self.assertEqual(self.sent("queue", "--province=Hà Nội", "--category", "none",
                                   "--operator", "lan", "--unanswered"),
                         {"cmd": "queue", "province": "Hà Nội", "category": "none",
                          "operator": "lan", "unanswered": True})
        self.assertEqual(self.sent("assign", "12", "hoa"),
                         {"cmd": "assign", "case": 12, "operator": "hoa"})
        self.assertEqual(self.sent("find", "--caller", "+84 912 345 678", "--limit", "5"),
                         {"cmd": "find", "caller": "+84 912 345 678", "limit": 5},
                         "the daemon takes the spaces out")
        self.assertEqual(self.sent("escalations", "--all", "--limit=1000"),
                         {"cmd": "escalations", "all": True, "limit": 1000})
        self.assertEqual(self.sent("escalations"), {"cmd": "escalations"})

    def test_json_result_exactly_as_received(self):
        result = b'{"z": 1,  "a":"\\u00e0\\n", "n":[1.50,{"x":null}]}'
        fake = FakeDaemon(reply=b'{"ok":true,"id":1,"result":' + result + b', "more":1}\n')
        r = fake.run("--json", "status")
        self.assertEqual((r.returncode, r.stdout.encode()), (0, result + b"\n"))

    def test_untrusted_text_is_escaped(self):
        row = {"case": 5, "priority": 1, "category": "\x1b[2Jx", "age_s": 7200 + 300,
               "operator": "lan\u202e", "held": False, "escalations": 2,
               "next": {"deadline": "act", "due": "", "left_s": -750},
               "rules": ["r%d" % i for i in range(40)]}
        asked = dict(row, case=6, unanswered=["injured", "child_age\x1b"])
        fake = FakeDaemon(reply=json.dumps({"id": 1, "ok": True,
                                            "result": {"cases": [row, asked]}})
                          .encode() + b"\n")
        r = fake.run("queue")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        self.assertNotIn("\u202e", r.stdout)
        line = r.stdout.splitlines()[1]
        self.assertRegex(line, r"^   5 P1!! \\x1b\[2Jx +2h05m act -12:30 lan\\u202e +2 r0,r1,")
        # WHY is cut to its column, which leaves room for ASK at the end
        self.assertEqual(len(line), 100 - len(" ASK"), "WHY is cut to fit")
        self.assertTrue(line.endswith("\u2026"))
        line = r.stdout.splitlines()[2]
        self.assertEqual(len(line), 100)
        self.assertTrue(line.endswith("\u2026  2?"), line)

    def test_untrusted_labels_and_rows_are_escaped(self):
        labels = {"x": "\x1b[31mred\u202e", "y": ["not", "text"]}
        row = {"case": 5, "priority": 2, "category": "x", "age_s": 60, "operator": None,
               "held": False, "escalations": 0, "next": None, "rules": []}
        for cmd, result in (("queue", {"cases": [row, dict(row, case=6, category="y")]}),
                            ("find --caller 0912345678",
                             {"caller": "09\x1b[2J", "total": 9, "cases": [row]}),
                            ("escalations", {"unacked": 3, "all": False, "escalations": [
                                dict(row, escalation=4, acked_by="console:\x07")]})):
            fake = FakeDaemon(reply=json.dumps({"id": 1, "ok": True, "result": dict(
                result, labels=labels)}).encode() + b"\n")
            r = fake.run(*cmd.split())
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            for bad in ("\x1b", "\u202e", "\x07"):
                self.assertNotIn(bad, r.stdout, cmd)
            if cmd == "queue":
                lines = r.stdout.splitlines()
                self.assertTrue(lines[1].endswith(" \\x1b[31mred\\u202e"), lines[1])
                self.assertTrue(lines[2].endswith(" -"), "a label that is not text: none")
            else:
                self.assertIn("\\x1b[31mred\\u202e", r.stdout, cmd)
            if cmd.startswith("find"):
                self.assertTrue(r.stdout.startswith("caller 09\\x1b[2J: 9 cases"), r.stdout)
                self.assertTrue(r.stdout.endswith("\n... and 8 older: see --limit\n"), r.stdout)
            if cmd == "escalations":
                self.assertTrue(r.stdout.endswith("\n... and 2 more: see --limit\n"), r.stdout)

    def test_empty_queue(self):
        fake = FakeDaemon(reply=b'{"id":1,"ok":true,"result":{"cases":[]}}\n')
        self.assertEqual(fake.run("queue").stdout, "no open cases\n")

    def failure(self, fake, *args):
        r = fake.run(*(args or ("status",)))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("hotline111: "), r.stderr)
        return r.stderr

    def test_refusal(self):
        fake = FakeDaemon(reply=b'{"id":1,"ok":false,"error":"conflict","detail":"case 4 '
                          b'belongs to lan"}\n')
        self.assertEqual(self.failure(fake, "claim", "4"), "hotline111: case 4 belongs to lan\n")
        fake = FakeDaemon(greeting=b'{"ok":false,"error":"not_permitted","detail":"uid 5 is not '
                          b'a console operator (console.operators)"}\n')
        self.assertIn("uid 5 is not", self.failure(fake))

    def test_invalid_json(self):
        self.assertIn("invalid JSON", self.failure(FakeDaemon(reply=b'{"id":1,"ok":tru}\n')))
        self.assertIn("invalid JSON", self.failure(FakeDaemon(greeting=b"hello\n")))

    def test_line_over_1_mib(self):
        huge = b'{"id":1,"ok":true,"result":{"x":"' + b"a" * (1 << 20) + b'"}}\n'
        self.assertIn("longer than 1 MiB", self.failure(FakeDaemon(reply=huge)))

    def test_closed_mid_reply(self):
        self.assertIn("in the middle", self.failure(FakeDaemon(reply=b'{"id":1,"ok":true,"re')))
        self.assertIn("before replying", self.failure(FakeDaemon(reply=b"")))
        self.assertIn("before greeting", self.failure(FakeDaemon(greeting=b"")))

    def test_not_a_console(self):
        self.assertIn("not a hotline111 console",
                      self.failure(FakeDaemon(greeting=b'{"hello":"hotline111","proto":1}\n')))
        self.assertIn("protocol 2", self.failure(FakeDaemon(
            greeting=b'{"hello":"hotline111-console","proto":2}\n')))


if __name__ == "__main__":
    unittest.main(verbosity=2)
