"""Kamailio evapi source end to end: a fake evapi server on a loopback port
(Kamailio is the server; it sends netstrings to whoever connects), the real
daemon connecting to it as a consumer, the cases in a real PostgreSQL.
Frames are the ones contrib/kamailio/hotline111.cfg sends; what is sent
again after a reconnect is deduplicated by the ids made from the Call-ID."""
import json
import os
import shutil
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, Daemon, FakeServer, Postgres, wait_for  # noqa: E402

# Times near now, so that the deadlines they arm are not all overdue.
T0 = int(time.time()) - 120


def frame(obj):
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return b"%d:%s," % (len(data), data)


def answered_call(callid="a84b4c76e66710@pc33.hotline.vn"):
    return [
        frame({"event": "offered", "callid": callid, "time": "%d.204712" % T0,
               "caller": "+84912345678", "called": "111"}),
        frame({"event": "answered", "callid": callid, "time": "%d.704712" % (T0 + 7),
               "agent": "lan"}),
        frame({"event": "ended", "callid": callid, "time": "%d.904712" % (T0 + 126),
               "by": "caller"}),
    ]


def cancelled_call(callid="3848276298220188511@10.0.0.7"):
    return [
        frame({"event": "offered", "callid": callid, "time": "%d.100000" % T0,
               "caller": "+84987654321", "called": "111"}),
        frame({"event": "cancelled", "callid": callid, "time": "%d.700000" % (T0 + 12),
               "code": 487, "reason": "Request Terminated"}),
    ]


class FakeEvapi(FakeServer):
    """Accepts one consumer at a time and sends it the script, each frame
    in small pieces so that it is split across reads; then closes, like a
    Kamailio restart. Every session gets the same script again, or the
    later ones later_script."""

    def __init__(self, script, later_script=None, chunk=37):
        super().__init__()
        self.chunk = chunk
        self.scripts = [script, later_script or script]
        self.received = b""

    def session(self, conn):
        script = self.scripts[min(self.sessions, 2) - 1]
        for item in script:
            for i in range(0, len(item), self.chunk):
                conn.sendall(item[i:i + self.chunk])
                time.sleep(0.002)
            time.sleep(0.05)
        # evapi never hears from a consumer: note anything it says
        conn.settimeout(0.7)
        try:
            self.received += conn.recv(4096)
        except socket.timeout:
            pass


class Evapi(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def source(self, port):
        return 'sources=( { type = "evapi"; connect = "tcp:127.0.0.1:%d"; } )' % port

    def daemon(self, kamailio):
        d = Daemon(self.pg, sets=[self.source(kamailio.port)])
        self.addCleanup(d.destroy)
        return d.start()

    def kamailio(self, script, later_script=None, **kw):
        return FakeEvapi(script, later_script, **kw).serve(self)

    def status(self, d):
        """The source's line of `hotline111 status --json`."""
        return d.status()["sources"][0]

    def events(self):
        return self.pg.query("SELECT event_id, type FROM events ORDER BY event_id")

    def test_answered_call_and_replay(self):
        k = self.kamailio(answered_call())
        d = self.daemon(k)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        src = "evapi:tcp:127.0.0.1:%d" % k.port
        cid = "a84b4c76e66710@pc33.hotline.vn"
        self.assertEqual(self.events(), [
            ["%s:%s:answered" % (src, cid), "call.answered"],
            ["%s:%s:ended" % (src, cid), "call.ended"],
            ["%s:%s:offered" % (src, cid), "call.offered"],
        ])
        row = self.pg.query(
            "SELECT call_id, caller, line, operator, extract(epoch FROM offered_at)::numeric(14,3), "
            "extract(epoch FROM answered_at)::numeric(14,3), abandoned_at IS NULL, "
            "extract(epoch FROM ended_at)::numeric(14,3), duration_s, end_cause FROM cases")
        self.assertEqual(row, [[cid, "+84912345678", "111", "lan", "%d.204" % T0,
                                "%d.704" % (T0 + 7), "t", "%d.904" % (T0 + 126), "119",
                                "bye by caller"]])
        # The fake Kamailio closed the session; the daemon reconnects, is sent
        # the same frames again, and they are recognised as already applied.
        wait_for(lambda: k.sessions >= 3, timeout=20)
        wait_for(lambda: self.status(d)["events"] >= 6, timeout=10)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), "3")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "1")
        self.assertEqual(k.received, b"", "a consumer has nothing to say to evapi")
        log = d.log_text()
        self.assertIn("source %s: connected" % src, log)
        self.assertNotIn("912345678", log.replace("+849******78", ""))
        self.assertNotIn("refused", log)

    def test_cancelled_call_is_abandoned(self):
        k = self.kamailio(cancelled_call())
        self.daemon(k)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        row = self.pg.query("SELECT caller, answered_at IS NULL, abandoned_at IS NOT NULL, "
                            "wait_s, end_cause, status, outcome FROM cases")
        # a P4 call that ends with no ticket closes itself (hotline111-bridge(7))
        self.assertEqual(row, [["+84987654321", "t", "t", "13", "487 Request Terminated",
                                "closed", "no_action"]])
        self.assertEqual([t for _, t in self.events()],
                         ["call.abandoned", "call.ended", "call.offered"])

    def test_out_of_order_answer(self):
        call = answered_call("ooo-1@10.0.0.9")
        k = self.kamailio([call[1], call[0], call[2]])
        self.daemon(k)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        row = self.pg.query("SELECT count(*), min(caller), min(operator), min(duration_s) "
                            "FROM cases")
        self.assertEqual(row, [["1", "+84912345678", "lan", "119"]])

    def test_framing_error_drops_the_connection_and_is_logged_once(self):
        call = answered_call("frame-err@10.0.0.8")
        # a valid frame, then raw JSON as evapi sends with netstring_format=0,
        # then only raw JSON on every reconnect
        raw = b'{"event":"ended","callid":"frame-err@10.0.0.8"}\n'
        k = self.kamailio([call[0], raw, call[2]], later_script=[raw, raw])
        d = self.daemon(k)
        wait_for(lambda: k.sessions >= 4, timeout=30)
        self.assertIsNone(d.proc.poll(), "the daemon must survive a bad stream")
        log = d.log_text()
        self.assertEqual(log.count("not a netstring"), 1, log)
        self.assertIn("'{' where a length was expected", log)
        # up once, at the first connection; not again until frames make sense
        self.assertEqual(log.count("evapi:tcp:127.0.0.1:%d: connected" % k.port), 1, log)
        self.assertNotEqual(self.status(d)["state"], "up")
        # what came before the error is kept, once; nothing after it
        self.assertEqual([t for _, t in self.events()], ["call.offered"])

    def test_frames_before_an_error_in_the_same_read_are_kept(self):
        call = answered_call("same-read@10.0.0.9")
        k = self.kamailio([call[0] + call[1] + b"garbage"], later_script=[b"x"], chunk=1 << 20)
        self.daemon(k)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "2", timeout=15)
        self.assertEqual(sorted(t for _, t in self.events()), ["call.answered", "call.offered"])

    def test_status_shows_the_source(self):
        k = self.kamailio(answered_call() + cancelled_call())
        d = self.daemon(k)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "6", timeout=15)
        src = self.status(d)
        self.assertEqual(src["type"], "evapi")
        self.assertEqual(src["connect"], "tcp:127.0.0.1:%d" % k.port)
        self.assertEqual(src["source"], "evapi:tcp:127.0.0.1:%d" % k.port)
        self.assertGreaterEqual(src["events"], 6)

    def test_credentials_are_refused_by_check_config(self):
        d = Daemon(self.pg, sets=['sources=( { type = "evapi"; connect = "tcp:127.0.0.1:8448"; '
                                  'password = "x"; } )'])
        self.addCleanup(d.destroy)
        out = d.check_config()
        self.assertEqual(out.returncode, 1)
        self.assertIn("sources: evapi tcp:127.0.0.1:8448: evapi has no authentication",
                      out.stderr)

    def test_valgrind_clean_shutdown_with_every_kind_of_source(self):
        """One source mid-session, two waiting to retry (nothing listens at
        their ports): a stop frees every one of them."""
        with open(DAEMON, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("built with AddressSanitizer; valgrind cannot run it")
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        k = self.kamailio(answered_call())
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        self.addCleanup(closed.close)
        d = Daemon(self.pg, sets=[
            'sources=( { type = "evapi"; connect = "tcp:127.0.0.1:%d"; }, '
            '{ type = "ami"; connect = "tcp:127.0.0.1:%d"; username = "u"; secret = "s"; }, '
            '{ type = "esl"; connect = "tcp:127.0.0.1:%d"; password = "p"; } )'
            % (k.port, port, port)])
        self.addCleanup(d.destroy)
        supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
        d.start_under(["valgrind", "--error-exitcode=9", "--leak-check=full",
                       "--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp])
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=60)
        d.wait_log("source esl:tcp:127.0.0.1:%d:" % port, timeout=60)
        d.signal(signal.SIGHUP)
        d.wait_log("reload:", timeout=60)
        self.assertEqual(d.stop(timeout=60), 0, d.log_text()[-3000:])
        self.assertIn("All heap blocks were freed", d.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
