"""The FreeSWITCH event socket end to end: a scripted mod_event_socket on a
loopback port (auth/request, the password checked, the subscription
answered, mod_callcenter events replayed in odd-sized pieces), the real
daemon connecting to it as a client, the cases in a real PostgreSQL. What
was replayed after a reconnect is deduplicated."""
import os
import sys
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, FakeServer, Postgres, wait_for  # noqa: E402

U1 = "8f6ac1d2-3b4e-4f0a-9c71-2d5e6f708192"  # answered, transferred
U2 = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"  # abandoned
A1 = "c41e07b9-7d2a-4e55-b0f3-91aa6c2d5e10"  # the agent's leg
X1 = "0d9f2c44-1e8b-4a37-a5c6-7b8e9f001122"  # not a hotline call
QUEUE = "Tổng đài 111@default"


def plain(headers):
    """An event as mod_event_socket frames it: values URL-encoded, counted."""
    body = "".join("%s: %s\n" % (k, quote(str(v), safe="")) for k, v in headers) + "\n"
    body = body.encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def common(ts, uid):
    return [("Event-Date-Timestamp", ts), ("Core-UUID", "2130a7d1-c1f7-44cd-8fae-8ed5946f3cec"),
            ("FreeSWITCH-Hostname", "pbx1"), ("Unique-ID", uid),
            ("Caller-Caller-ID-Number", "+84912345678"), ("Caller-Destination-Number", "111")]


def cc(action, ts, member, uid=None, **more):
    return plain([("Event-Name", "CUSTOM"), ("Event-Subclass", "callcenter::info"),
                  *common(ts, uid or member), ("CC-Queue", QUEUE), ("CC-Action", action),
                  ("CC-Member-Session-UUID", member), ("CC-Member-CID-Number", "+84912345678"),
                  *[(k.replace("_", "-") if k.startswith("CC_") else k, v)
                    for k, v in more.items()]])


def hangup(ts, uid, cause, **variables):
    return plain([("Event-Name", "CHANNEL_HANGUP_COMPLETE"), *common(ts, uid),
                   ("Hangup-Cause", cause), *[("variable_" + k, v) for k, v in variables.items()]])


EVENTS = [
    hangup("1783162870000000", X1, "NORMAL_CLEARING", billsec="20"),
    cc("member-queue-start", "1783162872204712", U1, variable_hotline_ivr="3"),
    cc("agent-offering", "1783162873100250", U1, CC_Agent="lan@default"),
    cc("bridge-agent-start", "1783162879512003", U1, uid=A1, CC_Agent="lan@default",
       CC_Agent_Answered_Time="1783162879"),
    cc("member-queue-start", "1783162900000000", U2),
    cc("member-queue-end", "1783162953000000", U2, CC_Cause="Cancel",
       CC_Cancel_Reason="BREAK_OUT", CC_Member_Joined_Time="1783162900",
       CC_Member_Leaving_Time="1783162953"),
    hangup("1783162953100000", U2, "ORIGINATOR_CANCEL", billsec="53"),
    hangup("1783162974000001", A1, "NORMAL_CLEARING", billsec="95"),
    hangup("1783162974000950", U1, "NORMAL_CLEARING", billsec="95",
           transfer_history="ARRAY::1783162870:u0:bl_xfer:111/public/XML"
                            "|:1783162950:u1:bl_xfer:2001/default/XML"),
]
MAPPED = 7  # offered, answered, transferred, ended; offered, abandoned, ended
GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
NOTICE = (b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(GOODBYE)
          + GOODBYE)


class FakeFreeSWITCH(FakeServer):
    """Accepts one session at a time: auth/request, the password checked,
    the subscription answered, the events replayed in pieces of odd sizes."""

    def __init__(self, events, password="s3cret", goodbye=False):
        super().__init__()
        self.events, self.password, self.goodbye = events, password, goodbye
        self.commands = []
        self.notices = 0  # disconnect notices sent

    def command(self, conn):
        """One command: its lines up to the empty one."""
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = conn.recv(1)
            if not chunk:
                return None
            data += chunk
        self.commands.append(data.decode())
        return data.decode()

    def session(self, conn):
        conn.settimeout(5)
        conn.sendall(b"Content-Type: auth/request\n\n")
        auth = self.command(conn)
        if auth != "auth %s\n\n" % self.password:
            conn.sendall(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
            conn.sendall(NOTICE)
            return
        conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        if self.command(conn) is None:
            return
        conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
        stream = b"".join(self.events)
        if self.goodbye and self.notices == 0:
            # shutting down: the last events and the notice in one write;
            # once only, so that a reconnect racing the test's look at the
            # log cannot add a second notice to count
            self.notices += 1
            conn.sendall(stream + NOTICE)
            time.sleep(0.5)
            return
        sizes = [1, 7, 64, 3, 500, 13, 2048]
        i = n = 0
        while i < len(stream):
            conn.sendall(stream[i:i + sizes[n % len(sizes)]])
            i += sizes[n % len(sizes)]
            n += 1
            time.sleep(0.002)
        time.sleep(0.5)


class EventSocket(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, pbx, password="s3cret"):
        d = Daemon(self.pg, sets=['sources=( { type = "esl"; connect = "tcp:127.0.0.1:%d"; '
                                  'password = "%s"; ivr_variable = "hotline_ivr"; } )'
                                  % (pbx.port, password)])
        self.addCleanup(d.destroy)
        return d.start()

    def fake(self, **kw):
        return FakeFreeSWITCH(EVENTS, **kw).serve(self)

    def test_queue_calls_become_cases_and_a_replay_dedupes(self):
        pbx = self.fake()
        d = self.daemon(pbx)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == str(MAPPED), timeout=15)
        rows = self.pg.query("SELECT call_id, caller, line, queue, ivr, operator, category, "
                             "priority, status, answered_at IS NOT NULL, abandoned_at IS NOT NULL, "
                             "wait_s, transferred_to, end_cause, duration_s FROM cases "
                             "ORDER BY offered_at")
        self.assertEqual(rows, [
            [U1, "+84912345678", "111", QUEUE, "3", "lan", "trafficking", "2", "open", "t", "f",
             "", "2001", "NORMAL_CLEARING", "95"],
            [U2, "+84912345678", "111", QUEUE, "", "", "", "4", "closed", "f", "t",
             "53", "", "ORIGINATOR_CANCEL", "53"],
        ])
        src = "esl:tcp:127.0.0.1:%d" % pbx.port
        ids = {r[0] for r in self.pg.query("SELECT event_id FROM events")}
        self.assertEqual(ids, {src + ":" + k for k in (
            U1 + ":offered", U1 + ":answered", U1 + ":transferred:2001:1783162950",
            U1 + ":ended", U2 + ":offered", U2 + ":abandoned", U2 + ":ended")})
        self.assertEqual(pbx.commands[:2], [
            "auth s3cret\n\n", "event plain CHANNEL_HANGUP_COMPLETE CUSTOM callcenter::info\n\n"])
        # FreeSWITCH closed the session; the daemon reconnects and the replay dedupes.
        wait_for(lambda: pbx.sessions >= 2, timeout=15)
        wait_for(lambda: len(pbx.commands) >= 4, timeout=15)
        time.sleep(1.5)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), str(MAPPED))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "2")
        log = d.log_text()
        self.assertIn("source %s: connected" % src, log)
        self.assertIn("source %s: the PBX closed the connection" % src, log)
        self.assertNotIn("912345678", log.replace("+849******78", ""))
        self.assertNotIn("refused", log)

    def test_events_sent_with_a_disconnect_notice_are_kept(self):
        pbx = self.fake(goodbye=True)
        d = self.daemon(pbx)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == str(MAPPED), timeout=15)
        notice = "FreeSWITCH ended the session (disconnect-notice): Disconnected, goodbye."
        d.wait_log(notice, timeout=15)
        # the daemon came back; its session replays without a notice
        wait_for(lambda: pbx.sessions >= 2 and len(pbx.commands) >= 4, timeout=15)
        d.wait_log("source esl:tcp:127.0.0.1:%d: connected" % pbx.port, timeout=15, count=2)
        log = d.log_text()
        self.assertEqual(pbx.notices, 1)
        self.assertEqual(log.count(notice), 1, log)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), "2")

    def test_wrong_password_is_logged_once(self):
        pbx = self.fake(password="other")
        d = self.daemon(pbx)
        wait_for(lambda: pbx.sessions >= 3, timeout=20)
        log = d.log_text()
        self.assertEqual(log.count("login refused: -ERR invalid"), 1, log)
        self.assertIsNone(d.proc.poll())
        self.assertEqual(pbx.commands, ["auth s3cret\n\n"] * len(pbx.commands))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events"), "0")

    def test_status_shows_the_source(self):
        pbx = self.fake()
        d = self.daemon(pbx)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events") == str(MAPPED), timeout=15)
        source = d.status()["sources"][0]
        self.assertEqual(source["type"], "esl")
        self.assertEqual(source["source"], "esl:tcp:127.0.0.1:%d" % pbx.port)
        self.assertEqual(source["events"], MAPPED)

    def test_source_without_password_is_refused_by_check_config(self):
        d = Daemon(self.pg, sets=['sources=( { type = "esl"; connect = "tcp:127.0.0.1:8021"; } )'])
        self.addCleanup(d.destroy)
        out = d.check_config()
        self.assertEqual(out.returncode, 1)
        self.assertIn("sources: esl tcp:127.0.0.1:8021: esl needs password", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
