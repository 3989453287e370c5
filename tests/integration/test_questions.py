"""Key questions end to end (issue 11 part 1): the real hotline111d with the
shipped rules file, the real hotline111 program and a bridge client, against
a private PostgreSQL. A case whose words say nothing alarming becomes P1
once danger_now=yes is answered, at the console and on a ticket event; the
answers are stored with who gave them and when, and audited; the deadlines
follow the raise; an unknown question or answer is refused with a clear
error and nothing stored; show and the queue mark P1-P2 cases whose key
questions are still unanswered."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI, DAEMON, Client, Daemon, Postgres, ev, wait_for  # noqa: E402

BLAND = "Chị ơi em muốn kể chuyện bạn em ở lớp"  # nothing alarming
HURT = "bạn em hay bị bố mắng chửi"  # emotional abuse: P3 on its words

pg = d = None
seq = [0]


def setUpModule():
    global pg, d
    pg = Postgres()
    d = Daemon(pg)
    d.start()
    wait_for(lambda: d.status()["database"] == "up")


def tearDownModule():
    if d:
        d.destroy()
    if pg:
        pg.destroy()


def cli(*args, stdin=None, daemon=None):
    return subprocess.run([CLI, "-S", os.path.join((daemon or d).dir, "console.sock"), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def ok(*args, stdin=None):
    r = cli(*args, stdin=stdin)
    if r.returncode != 0:
        raise AssertionError("hotline111 %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                             r.stderr))
    return r.stdout


def js(*args):
    return json.loads(ok("--json", *args))


def next_id(prefix):
    seq[0] += 1
    return "%s-%d-%d" % (prefix, os.getpid(), seq[0])


def call(client, type, **fields):
    return client.call(ev(next_id("q"), type, **fields))


def new_ticket(text=BLAND, **fields):
    """A ticket on a fresh case: (ticket id, its ack)."""
    ticket = next_id("t")
    c = Client(d.bridge)
    try:
        ack = call(c, "ticket.created", ticket_id=ticket, text=text, **fields)
    finally:
        c.close()
    assert "ack" in ack, ack
    return ticket, ack


def answers_of(case):
    return [tuple(r) for r in pg.query("SELECT question, answer #>> '{}', given_by FROM answers "
                                       "WHERE case_id = :p1 ORDER BY id", case)]


class Console(unittest.TestCase):
    def test_danger_now_yes_makes_a_bland_case_p1(self):
        _, ack = new_ticket()
        case = ack["case"]
        self.assertEqual(ack["priority"], 4, ack)
        before = {t: int(due) for t, due in pg.query(
            "SELECT deadline, extract(epoch FROM due_at - now())::int FROM timers "
            "WHERE case_id = :p1", case)}
        self.assertGreater(before["claim"], 3600, before)  # P4: hours to claim it

        out = ok("assess", str(case), "--answer", "danger_now=yes")
        self.assertIn("case %d answered: P1!!" % case, out)
        self.assertIn("answer-danger-now", out)
        self.assertRegex(out, r"still to ask: abuser_access, injured, child_age, location_known")

        shown = js("show", str(case))
        self.assertEqual(shown["case"]["priority"], 1)
        self.assertIn("answer-danger-now", shown["case"]["rules"])
        self.assertEqual([(a["question"], a["answer"], a["by"]) for a in shown["answers"]],
                         [("danger_now", "yes", "console:root")])
        self.assertRegex(shown["answers"][0]["at"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(shown["unanswered"],
                         ["abuser_access", "injured", "child_age", "location_known"])
        self.assertEqual(shown["triage"][-1]["priority_after"], 1)
        self.assertEqual(shown["triage"][-1]["priority_before"], 4)
        # the raise re-armed the deadlines at P1's policy (claim within 60 s)
        after = {t: int(due) for t, due in pg.query(
            "SELECT deadline, extract(epoch FROM due_at - now())::int FROM timers "
            "WHERE case_id = :p1", case)}
        self.assertLessEqual(after["claim"], 60, after)
        # who answered, in the audit trail
        audit = pg.query("SELECT actor, after->'answers'->>'danger_now', peer IS NOT NULL "
                         "FROM audit WHERE case_id = :p1 AND action = 'case.answer'", case)
        self.assertEqual(audit, [["console:root", "yes", "t"]])
        # show as a person reads it
        human = ok("show", str(case))
        self.assertRegex(human, r"danger_now +yes +by console:root")
        self.assertIn("!! key questions unanswered: abuser_access, injured, child_age, "
                      "location_known", human)

    def test_unknown_question_or_answer_is_refused(self):
        _, ack = new_ticket()
        case = str(ack["case"])
        r = cli("assess", case, "--answer", "danger=yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answers: no question 'danger' in the rules", r.stderr)
        r = cli("assess", case, "--answer", "danger_now=maybe")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answers.danger_now: must be one of yes, no, unknown", r.stderr)
        r = cli("assess", case, "--answer", "child_age=18")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answers.child_age: must be an integer 0..17 or one of unknown", r.stderr)
        # one bad answer refuses them all
        r = cli("assess", case, "--answer", "danger_now=yes", "--answer", "injured=badly")
        self.assertEqual(r.returncode, 1)
        self.assertIn("answers.injured: must be one of none, visible, doctor, unknown", r.stderr)
        # the program's own checks
        r = cli("assess", case, "--answer", "danger_now")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--answer takes QUESTION=ANSWER", r.stderr)
        r = cli("assess", case, "--answer", "danger_now=yes", "--answer", "danger_now=no")
        self.assertEqual(r.returncode, 2)
        self.assertIn("danger_now answered twice", r.stderr)
        self.assertEqual(answers_of(int(case)), [])
        self.assertEqual(pg.scalar("SELECT priority FROM cases WHERE id = :p1", int(case)), "4")
        # straight on the socket: a wrong type
        c = Client(os.path.join(d.dir, "console.sock"))
        try:
            for bad in ({"cmd": "assess", "case": int(case)},
                        {"cmd": "assess", "case": int(case), "answers": "yes"},
                        {"cmd": "assess", "case": int(case), "answers": {}},
                        {"cmd": "assess", "case": int(case), "answers": {"danger_now": True}}):
                r = c.call(bad)
                self.assertEqual((r["ok"], r["error"]), (False, "bad_request"), r)
            r = c.call({"cmd": "assess", "case": 999999999, "answers": {"danger_now": "yes"}})
            self.assertEqual(r["error"], "not_found", r)
        finally:
            c.close()
        self.assertEqual(answers_of(int(case)), [])

    def test_interactive(self):
        _, ack = new_ticket()
        case = ack["case"]
        # Enter skips; a number picks an answer, a word too; child_age takes a number
        out = ok("assess", str(case), stdin="1\nmaybe\n\nvisible\n7\n\n")
        self.assertIn("[1/5] Trẻ có đang gặp nguy hiểm ngay lúc này không?", out)
        self.assertIn("yes (1)   no (2)   unknown (3)", out)
        self.assertIn("a number 0..17, or unknown", out)
        self.assertIn("not an answer to this question", out)
        self.assertIn("case %d answered: P1!!" % case, out)
        self.assertIn("still to ask: abuser_access, location_known", out)
        self.assertEqual(sorted(answers_of(case)), [("child_age", "7", "console:root"),
                                                    ("danger_now", "yes", "console:root"),
                                                    ("injured", "visible", "console:root")])
        # asked again, the answers so far are shown; nothing typed, nothing stored
        out = ok("assess", str(case), stdin="")
        self.assertIn("now: yes, by console:root", out)
        self.assertIn("no answer given; nothing stored", out)
        self.assertEqual(len(answers_of(case)), 3)
        q = js("questions", str(case))
        self.assertEqual([(x["id"], x.get("answer")) for x in q["questions"]],
                         [("danger_now", "yes"), ("abuser_access", None), ("injured", "visible"),
                          ("child_age", 7), ("location_known", None)])

    def test_queue_marks_unanswered_key_questions(self):
        _, ack = new_ticket()
        p1 = ack["case"]
        ok("assess", str(p1), "--answer", "danger_now=yes", "--answer", "abuser_access=no")
        _, ack = new_ticket()
        p4 = ack["case"]
        rows = {r["case"]: r for r in js("queue")["cases"]}
        self.assertEqual(rows[p1]["unanswered"], ["injured", "child_age", "location_known"])
        self.assertNotIn("unanswered", rows[p4])  # P3-P4 cases are not nagged
        self.assertNotIn("answered", rows[p1])
        out = ok("queue").splitlines()
        self.assertEqual(out[0].split()[-2:], ["ASK", "LABEL"])
        line = [x for x in out if x.split()[0] == str(p1)][0]
        self.assertRegex(line, r" 3\? \S[^?]*$", "ASK, then the category's label")
        self.assertLessEqual(max(len(x) for x in out), 100)
        ok("assess", str(p1), "--answer", "injured=none", "--answer", "child_age=unknown",
           "--answer", "location_known=yes")
        rows = {r["case"]: r for r in js("queue")["cases"]}
        self.assertEqual(rows[p1]["unanswered"], [])

    def test_the_whole_case_is_read_again(self):
        """The answer alone says nothing of harm: the case's own text, read
        from the database, names it, and abuser_access=yes raises it to P2."""
        _, ack = new_ticket(HURT)
        case = ack["case"]
        self.assertEqual((ack["category"], ack["priority"]), ("abuse.emotional", 3), ack)
        out = ok("assess", str(case), "--answer", "abuser_access=yes")
        self.assertIn("case %d answered: P2 abuse.emotional" % case, out)
        self.assertIn("answer-abuser-access", out)
        # raise-only: answering no afterwards lowers nothing
        ok("assess", str(case), "--answer", "abuser_access=no")
        self.assertEqual(pg.scalar("SELECT priority FROM cases WHERE id = :p1", case), "2")
        self.assertEqual([a[1] for a in answers_of(case)], ["yes", "no"])
        self.assertEqual(js("show", str(case))["answers"][0]["answer"], "no")

    def test_closed_case_takes_no_answers(self):
        _, ack = new_ticket()
        case = str(ack["case"])
        ok("close", case, "--outcome", "resolved")
        r = cli("assess", case, "--answer", "danger_now=yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is closed", r.stderr)
        self.assertEqual(answers_of(int(case)), [])


class Bridge(unittest.TestCase):
    def test_answers_on_a_ticket_event_make_it_p1(self):
        ticket, ack = new_ticket()
        self.assertEqual(ack["priority"], 4)
        c = Client(d.bridge)
        try:
            r = call(c, "ticket.updated", ticket_id=ticket, answers={"danger_now": "yes"})
        finally:
            c.close()
        self.assertEqual(r["priority"], 1, r)
        self.assertIn("answer-danger-now", r["rules"])
        case = r["case"]
        self.assertEqual(answers_of(case), [("danger_now", "yes", "bridge:-")])
        self.assertEqual(pg.query("SELECT actor, after->>'event' IS NOT NULL FROM audit "
                                  "WHERE case_id = :p1 AND action = 'case.answer'", case),
                         [["bridge:-", "t"]])
        shown = js("show", str(case))
        self.assertEqual(shown["answers"][0]["by"], "bridge:-")
        self.assertEqual(shown["case"]["priority"], 1)

    def test_the_client_name_is_who_answered(self):
        d2 = Daemon(pg, sets=['bridge.tokens=( { client = "pbx1"; token = "s3cret"; } )'])
        d2.start()
        try:
            c = Client(d2.bridge)
            try:
                self.assertEqual(c.call({"type": "hello", "client": "pbx1", "token": "s3cret"}),
                                 {"welcome": "pbx1"})
                r = call(c, "ticket.created", ticket_id=next_id("t"), text=BLAND,
                         answers={"injured": "doctor", "child_age": 5})
            finally:
                c.close()
        finally:
            d2.destroy()
        self.assertEqual(r["priority"], 1, r)
        self.assertIn("answer-injured-doctor", r["rules"])
        self.assertEqual(sorted(answers_of(r["case"])), [("child_age", "5", "bridge:pbx1"),
                                                         ("injured", "doctor", "bridge:pbx1")])

    def test_answers_read_with_the_ticket_so_far(self):
        """abuser_access=yes counts on a harm case: the ticket's earlier note
        named the harm, this event only answers."""
        ticket, ack = new_ticket(HURT)
        self.assertEqual((ack["category"], ack["priority"]), ("abuse.emotional", 3), ack)
        c = Client(d.bridge)
        try:
            r = call(c, "ticket.updated", ticket_id=ticket, answers={"abuser_access": "yes"})
        finally:
            c.close()
        self.assertEqual(r["priority"], 2, r)
        self.assertIn("answer-abuser-access", r["rules"])

    def test_bad_answers_are_nacked_and_nothing_stored(self):
        ticket, ack = new_ticket()
        case = ack["case"]
        bad = [
            ({"danger": "yes"}, "answers: no question 'danger' in the rules"),
            ({"danger_now": "maybe"}, "answers.danger_now: must be one of yes, no, unknown"),
            ({"danger_now": True}, "answers: must be an object of 1..32 answers"),
            ({"danger_now": ["yes"]}, "answers: must be an object of 1..32 answers"),
            ({"child_age": 40}, "answers.child_age: must be an integer 0..17 or one of unknown"),
            ({"child_age": "7"}, "answers.child_age: must be an integer 0..17 or one of unknown"),
            ("yes", "answers: must be an object of 1..32 answers"),
            ({}, "answers: must be an object of 1..32 answers"),
            ({"q%d" % i: "yes" for i in range(33)}, "answers: must be an object of 1..32"),
            ({"Nguy hiểm": "có"}, "answers: no question '(a key that is not a question id)'"),
        ]
        c = Client(d.bridge)
        try:
            for answers, detail in bad:
                eid = next_id("bad")
                r = c.call(ev(eid, "ticket.updated", ticket_id=ticket, answers=answers))
                self.assertEqual((r.get("nack"), r.get("error")), (eid, "bad_value"), r)
                self.assertIn(detail, r["detail"])
                self.assertEqual(pg.scalar("SELECT count(*) FROM events WHERE event_id = :'p1'",
                                           eid), "0")
            # the connection goes on
            r = call(c, "ticket.updated", ticket_id=ticket, text="thêm ghi chú")
            self.assertIn("ack", r)
        finally:
            c.close()
        self.assertEqual(answers_of(case), [])
        self.assertEqual(pg.scalar("SELECT priority FROM cases WHERE id = :p1", case), "4")


class Valgrind(unittest.TestCase):
    def test_answers_under_valgrind(self):
        """Answers good and bad, on the bridge and at the console, with the
        daemon under valgrind: no error, nothing lost."""
        with open(DAEMON, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("built with AddressSanitizer; valgrind cannot run it")
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        vd = Daemon(pg)
        self.addCleanup(vd.destroy)
        supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
        vd.start_under(["valgrind", "--error-exitcode=9", "--leak-check=full",
                        "--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp])
        wait_for(lambda: json.loads(cli("--json", "status", daemon=vd).stdout or "{}")
                 .get("database") == "up", timeout=60)
        c = Client(vd.bridge, timeout=60)
        try:
            ticket = next_id("vg")
            self.assertIn("ack", call(c, "ticket.created", ticket_id=ticket, text=HURT,
                                      answers={"child_age": 4}))
            self.assertEqual(call(c, "ticket.updated", ticket_id=ticket,
                                  answers={"danger_now": "yes"})["priority"], 1)
            self.assertEqual(call(c, "ticket.updated", ticket_id=ticket,
                                  answers={"danger_now": "maybe"})["error"], "bad_value")
            case = call(c, "ticket.updated", ticket_id=ticket, text="thêm")["case"]
        finally:
            c.close()
        self.assertEqual(cli("assess", str(case), "--answer", "injured=doctor",
                             daemon=vd).returncode, 0)
        self.assertEqual(cli("assess", str(case), "--answer", "nobody=yes",
                             daemon=vd).returncode, 1)
        self.assertEqual(cli("assess", str(case), stdin="2\n", daemon=vd).returncode, 0)
        for args in (["show", str(case)], ["queue"], ["questions", str(case)]):
            self.assertEqual(cli(*args, daemon=vd).returncode, 0, args)
        self.assertEqual(vd.stop(timeout=60), 0, vd.log_text()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
