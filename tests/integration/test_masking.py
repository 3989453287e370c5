"""No whole caller number in any log line, at any level: numbers sent down
every path that logs what it was given (a stored event, a bridge nack's
debug line with the parser's error text, an unknown type, the CTI webhook's
JSON parser error) are looked for in the daemon's log, debug level on. The
console's queue masks callers with the log's mask (log_mask_number in C,
the one mask: the database keeps numbers whole). Every daemon log of the suite is also checked
for whole numbers when its test ends (harness.Daemon.destroy)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DaemonTest, ev, free_port, http_request, whole_numbers  # noqa: E402

TOKEN = "masking-test-token_0123456789"

# log_mask_number's table in tests/unit/test_timers.c
MASKS = [
    ("+84912345678", "+849******78"),
    ("0912345678", "091*****78"),
    ("02438251234", "024******34"),
    ("+8412345678901", "+841********01"),
    ("113", "***"),
    ("12345", "12***"),
    ("1234567", "12***67"),
    ("+1234", "+****"),
    ("+", "+"),
    ("", ""),
    ("anonymous", "an*****us"),
    ("+84\n12345678", "+84*******78"),
]



class Masking(DaemonTest):
    @classmethod
    def daemon_sets(cls):
        cls.port = free_port()
        return [f'cti.listen="tcp:127.0.0.1:{cls.port}"',
                                     f'cti.token="{TOKEN}"']

    def post(self, body, ctype="application/json"):
        return http_request(self.port, "POST", "/api/v1/cti/" + TOKEN, body,
                            {"Content-Type": ctype})

    def assert_masked(self, number, masked):
        log = self.d.log_text()
        self.assertNotIn(number.lstrip("+0"), log)
        self.assertIn(masked, log)

    def test_queue_masks_callers_as_the_log_does(self):
        c = self.client()
        sent = {}
        for i, (number, masked) in enumerate(MASKS):
            if number in ("", "+"):
                continue
            r = c.call(ev(f"qm-{i}", "call.offered", call_id=f"qm-{i}", caller=number))
            self.assertIn("ack", r, number)
            sent[r["case"]] = (number, masked)
        out = self.d.cli("--json", "queue")
        self.assertEqual(out.returncode, 0, out.stderr)
        shown = {q["case"]: q["caller"] for q in json.loads(out.stdout)["cases"]}
        for case, (number, masked) in sent.items():
            self.assertEqual(shown.get(case), masked, number)
        self.assertEqual(self.pg.query("SELECT count(*) FROM pg_proc WHERE proname = 'h111_mask'"),
                         [["0"]], "masking lives in C only")

    def test_bridge_nack_lines_mask_numbers(self):
        c = self.client()
        self.assertIn("ack", c.call(ev("mk-1", "call.offered", call_id="mk-1",
                                       caller="+84987650001")))
        # bad UTF-8 right after a number: the parser's error text quotes it
        c.send_raw(b'{"id":"mk-2","type":"call.offered","caller":"0987650002\xff"}\n')
        self.assertEqual(c.recv()["error"], "bad_json")
        c.send_raw(b'{"id":"mk-3","type":"call.offered","caller":"0987650003\x01"}\n')
        self.assertEqual(c.recv()["error"], "bad_json")
        self.assertEqual(c.call({"id": "mk-4", "type": "0987650004"})["error"], "bad_type")
        self.assertEqual(c.call(ev("mk-5", "call.offered", call_id="mk-5", caller=84987650005))
                         ["error"], "bad_value")
        self.assertEqual(c.call(ev("mk-6", "ping"))["ack"], "mk-6")
        self.assert_masked("0987650002", "098*****02")
        self.assert_masked("0987650003", "098*****03")
        self.assert_masked("0987650004", "098*****04")
        for n in ("+84987650001", "84987650005"):
            self.assertNotIn(n.lstrip("+0"), self.d.log_text())

    def test_cti_parser_error_text_masks_numbers(self):
        status, body = self.post(b'{"event":"newCall","callId":"mk-c1","from":"0987650011\xff"}')
        self.assertEqual(status, 400, body)
        status, body = self.post(b'{"event":"newCall","callId":"mk-c2","from":"+84987650012\x01"}')
        self.assertEqual(status, 400, body)
        status, body = self.post("event=newCall&direction=in&callId=mk-c3&from=%2B84987650013",
                                 "application/x-www-form-urlencoded")
        self.assertEqual(status, 200, body)
        self.assert_masked("0987650011", "098*****11")
        self.assert_masked("+84987650012", "+849******12")
        self.assertNotIn("987650013", self.d.log_text())
        self.assertEqual(whole_numbers(self.d.log), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
