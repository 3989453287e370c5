"""PBX sources end to end: a scripted Asterisk Manager Interface on a
loopback port, the real daemon connecting to it as a client, the cases in
a real PostgreSQL. What was replayed after a reconnect is deduplicated."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, FakeServer, Postgres, wait_for  # noqa: E402

CALL = [
    "Event: VarSet\r\nChannel: PJSIP/trunk-00000001\r\nVariable: HOTLINE_IVR\r\nValue: 3\r\n"
    "Uniqueid: 1783162872.204\r\nLinkedid: 1783162872.204\r\n",
    "Event: QueueCallerJoin\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: +84912345678\r\n"
    "Queue: bao-ve-tre-em\r\nPosition: 1\r\nCount: 1\r\nUniqueid: 1783162872.204\r\n"
    "Linkedid: 1783162872.204\r\n",
    "Event: AgentConnect\r\nChannel: PJSIP/trunk-00000001\r\nMemberName: lan\r\n"
    "Interface: PJSIP/lan\r\nHoldTime: 7\r\nQueue: bao-ve-tre-em\r\nUniqueid: 1783162872.204\r\n"
    "Linkedid: 1783162872.204\r\n",
    "Event: Hangup\r\nChannel: PJSIP/trunk-00000001\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n"
    "Uniqueid: 1783162872.204\r\nLinkedid: 1783162872.204\r\n",
]


class FakeAsterisk(FakeServer):
    """Accepts one session at a time: banner, Login answered, the blocks replayed."""

    def __init__(self, blocks, accept_login=True):
        super().__init__()
        self.blocks, self.accept_login = blocks, accept_login
        self.logins = []
        self.actions = []

    def read_block(self, f):
        block = {}
        for raw in f:
            line = raw.decode().rstrip("\r\n")
            if not line:
                return block
            k, _, v = line.partition(": ")
            block[k] = v
        return None

    def session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"Asterisk Call Manager/5.0.1\r\n")
        login = self.read_block(f)
        if login is None:
            return
        self.logins.append(login)
        if not self.accept_login:
            conn.sendall(b"Response: Error\r\nActionID: %s\r\nMessage: Authentication failed\r\n\r\n"
                         % login.get("ActionID", "").encode())
            return
        conn.sendall(b"Response: Success\r\nActionID: %s\r\nMessage: Authentication accepted\r\n\r\n"
                     % login.get("ActionID", "").encode())
        conn.settimeout(0.5)
        try:
            action = self.read_block(f)
            if action:
                self.actions.append(action)
        except OSError:
            pass
        for b in self.blocks:
            conn.sendall(b.encode() + b"\r\n")
        time.sleep(0.5)


class Sources(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, pbx, name=""):
        d = Daemon(self.pg, sets=['sources=( { type = "ami"; connect = "tcp:127.0.0.1:%d"; '
                                  'username = "hotline111"; secret = "s3cret"; %s'
                                  'ivr_variable = "HOTLINE_IVR"; } )'
                                  % (pbx.port, 'name = "%s"; ' % name if name else "")])
        self.addCleanup(d.destroy)
        return d.start()

    def test_queue_call_becomes_a_case_and_a_replay_dedupes(self):
        pbx = FakeAsterisk(CALL).serve(self)
        d = self.daemon(pbx)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        row = self.pg.query("SELECT call_id, caller, queue, ivr, operator, category, status, "
                            "ended_at IS NOT NULL FROM cases")
        self.assertEqual(row, [["1783162872.204", "+84912345678", "bao-ve-tre-em", "3", "lan",
                                "trafficking", "open", "t"]])
        self.assertEqual(pbx.logins[0].get("Action"), "Login")
        self.assertEqual(pbx.logins[0].get("Username"), "hotline111")
        self.assertEqual(pbx.logins[0].get("Secret"), "s3cret")
        self.assertEqual(pbx.actions[0].get("Action"), "QueueStatus")
        # The PBX closed the session; the daemon reconnects and the replay dedupes.
        wait_for(lambda: pbx.sessions >= 2, timeout=15)
        time.sleep(1.0)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), "3")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "1")
        self.assertIn("source ami:tcp:127.0.0.1:%d: connected" % pbx.port, d.log_text())
        self.assertNotIn("912345678", d.log_text().replace("+849******78", ""))

    def test_a_named_source_keeps_its_ids_when_its_address_changes(self):
        first = FakeAsterisk(CALL).serve(self)
        d = self.daemon(first, name="pbx1")
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        d.stop()
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events WHERE event_id LIKE 'ami:pbx1:%'"),
                         "3")
        # The same PBX, moved to another address, says the same call again.
        second = FakeAsterisk(CALL).serve(self)
        self.daemon(second, name="pbx1")
        wait_for(lambda: second.sessions >= 1, timeout=15)
        time.sleep(1.5)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), "3")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "1")

    def test_two_sources_with_one_name_are_refused(self):
        src = '{ type = "ami"; connect = "tcp:127.0.0.1:%d"; username = "u"; secret = "s"; %s}'
        d = Daemon(self.pg, sets=['sources=( %s, %s )' % (src % (5038, 'name = "pbx"; '),
                                                          src % (5039, 'name = "pbx"; '))])
        self.addCleanup(d.destroy)
        out = d.check_config()
        self.assertEqual(out.returncode, 1)
        self.assertIn('two ami sources named "pbx"', out.stderr)

    def test_refused_login_is_logged_once(self):
        pbx = FakeAsterisk(CALL, accept_login=False).serve(self)
        d = self.daemon(pbx)
        wait_for(lambda: pbx.sessions >= 2, timeout=15)
        self.assertEqual(d.log_text().count("Authentication failed"), 1, d.log_text())
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), "0")

    def test_status_shows_the_source(self):
        pbx = FakeAsterisk(CALL).serve(self)
        d = self.daemon(pbx)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == "3", timeout=15)
        status = d.status()
        self.assertEqual(status["sources"][0]["type"], "ami")
        self.assertEqual(status["sources"][0]["events"], 3)
        text = d.cli("status").stdout
        self.assertRegex(text, r"source +ami:tcp:127\.0\.0\.1:%d (up|down), 3 events" % pbx.port)

    def test_source_without_credentials_is_refused_by_check_config(self):
        d = Daemon(self.pg, sets=['sources=( { type = "ami"; connect = "tcp:127.0.0.1:5038"; '
                                  'username = "x"; } )'])
        self.addCleanup(d.destroy)
        out = d.check_config()
        self.assertEqual(out.returncode, 1)
        self.assertIn('sources: ami tcp:127.0.0.1:5038: ami needs username and secret',
                      out.stderr)

    def test_a_reload_with_a_source_it_could_not_start_keeps_the_running_config(self):
        d = Daemon(self.pg).start()
        self.addCleanup(d.destroy)
        with open(d.conf, "a") as f:
            f.write('sources = ( { type = "ami"; connect = "tcp:127.0.0.1:5038"; '
                    'username = "x"; } );\n')
        d.signal(signal.SIGHUP)
        d.wait_log("the running configuration stays")
        self.assertIn("ami needs username and secret", d.log_text())
        self.assertNotIn("takes effect at the next restart", d.log_text())
        self.assertEqual(d.status()["sources"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
