"""Triage on intake with the shipped rules: the real daemon, a real PostgreSQL,
a bridge client on the real socket. A ticket's notes are read together, so a
note that says "now" meets the harm an earlier note told. The rules alone:
the model would name a harm in the "now" note by itself (test_model.py)."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, rules_only  # noqa: E402

HARM = "bé 6 tuổi bị bố dượng đánh bằng dây điện, người đầy vết lằn"
NOW = "ông ta đang ở nhà với bé, cứu với"


class WholeCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.tmp = tempfile.mkdtemp(prefix="h111wc-")
        cls.d = Daemon(cls.pg, sets=[f'triage.rules="{rules_only(cls.tmp)}"']).start()
        cls.c = Client(cls.d.bridge)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.d.stop()
        cls.d.destroy()
        cls.pg.destroy()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_later_note_meets_the_earlier_harm(self):
        a = self.c.call(ev("wc-1", "ticket.created", ticket_id="wc-t1", text=HARM))
        self.assertEqual((a["priority"], a["category"]), (2, "violence.domestic"))
        b = self.c.call(ev("wc-2", "ticket.updated", ticket_id="wc-t1", text=NOW))
        self.assertEqual((b["priority"], b["category"]), (1, "violence.domestic"))
        self.assertIn("cry-for-help", b["rules"])
        row = self.pg.query("SELECT priority_before, priority_after FROM triage "
                            "WHERE event_id = 'wc-2'")
        self.assertEqual(row, [["2", "1"]])

    def test_the_same_note_alone_is_not_enough(self):
        r = self.c.call(ev("wc-3", "ticket.created", ticket_id="wc-t3", text=NOW))
        self.assertEqual((r["priority"], r["category"]), (4, None))

    def test_age_from_an_earlier_event_counts(self):
        self.c.call(ev("wc-4", "ticket.created", ticket_id="wc-t4", child_age=4))
        r = self.c.call(ev("wc-5", "ticket.updated", ticket_id="wc-t4",
                           text="bé đi lạc ở chợ từ chiều"))
        self.assertEqual((r["priority"], r["category"]), (1, "missing"))
        self.assertIn("missing-young-child", r["rules"])

    def test_closing_forgets_the_notes(self):
        self.c.call(ev("wc-6", "ticket.created", ticket_id="wc-t6", text=HARM))
        self.c.call(ev("wc-7", "ticket.closed", ticket_id="wc-t6", outcome="referred"))
        r = self.c.call(ev("wc-8", "ticket.created", ticket_id="wc-t6", text=NOW))
        self.assertEqual(r["priority"], 2, "the closed case keeps its priority; the new "
                         "note alone raises nothing")
        row = self.pg.query("SELECT rules FROM triage WHERE event_id = 'wc-8'")
        self.assertEqual(row, [["{}"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
