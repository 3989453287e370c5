"""The Zammad-style CTI webhook end to end: the real daemon listening on a
loopback port picked at run time, a PBX played by http.client and raw
sockets, the cases in a real PostgreSQL. Covers the mapping of each event
(form and JSON), idempotency, the refusals (token, method, size, bad
bodies), hostile connections, a client that leaves before its reply, the
graceful stop, and that the webhook is off unless configured."""
import http.client
import json
import os
import shutil
import signal
import socket
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import (  # noqa: E402
    DAEMON, Daemon, DaemonTest, EventsLock, Postgres, assert_clean, free_port, http_request,
    wait_for)

TOKEN = "k2QmX7-test-token_0123456789"
PATH = "/api/v1/cti/" + TOKEN
FORM = "application/x-www-form-urlencoded"



def cti_sets(port, token=TOKEN):
    return [f'cti.listen="tcp:127.0.0.1:{port}"', f'cti.token="{token}"']


def form(**fields):
    """Zammad's form shape: user may be a list, sent as repeated user[]."""
    pairs = []
    for k, v in fields.items():
        if isinstance(v, list):
            pairs += [("user[]", x) for x in v]
        else:
            pairs.append((k, v))
    return urllib.parse.urlencode(pairs)


class Pbx:
    """An HTTP client of the webhook; a fresh connection per request."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None, timeout=20):
        status, data = http_request(self.port, method, path, body, headers, timeout)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data

    def post_form(self, path=PATH, **fields):
        return self.request("POST", path, form(**fields), {"Content-Type": FORM})

    def post_json(self, obj, path=PATH):
        return self.request("POST", path, json.dumps(obj, ensure_ascii=False).encode(),
                            {"Content-Type": "application/json"})

    def raw(self, data, close=True):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        s.sendall(data)
        if close:
            s.close()
        return s


def http_post(path, body, ctype=FORM):
    return (f"POST {path} HTTP/1.1\r\nHost: pbx\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body



class Webhook(DaemonTest):
    @classmethod
    def daemon_sets(cls):
        cls.port = free_port()
        return cti_sets(cls.port)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = Pbx(cls.port)

    def events(self, call_id):
        return [r[0] for r in self.pg.query(
            "SELECT event_id FROM events WHERE body->>'call_id' = :'p1' ORDER BY event_id", call_id)]

    def alive(self):
        status, body = self.pbx.post_form(event="newCall", callId="alive-check", direction="in")
        self.assertEqual(status, 200, body)

    def test_form_call_makes_one_case(self):
        st1, b1 = self.pbx.post_form(event="newCall", **{"from": "+84912345678"}, to="111",
                                     direction="in", callId="form-1", queue="bao-ve-tre-em",
                                     user=["Lan", "Tuan"])
        st2, b2 = self.pbx.post_form(event="answer", **{"from": "+84912345678"}, to="111",
                                     direction="in", callId="form-1", user=["Lan"],
                                     answeringNumber="lan")
        st3, b3 = self.pbx.post_form(event="hangup", **{"from": "+84912345678"}, to="111",
                                     direction="in", callId="form-1", cause="normalClearing")
        self.assertEqual((st1, st2, st3), (200, 200, 200), (b1, b2, b3))
        self.assertEqual(b1["case"], b2["case"])
        self.assertEqual(b1["case"], b3["case"])
        self.assertNotIn("dup", b1)
        self.assertEqual(self.events("form-1"),
                         ["cti:form-1:answered", "cti:form-1:ended", "cti:form-1:offered"])
        row = self.pg.query("SELECT id, caller, line, queue, operator, end_cause, "
                            "offered_at IS NOT NULL, answered_at IS NOT NULL, "
                            "ended_at IS NOT NULL, abandoned_at IS NULL "
                            "FROM cases WHERE call_id = 'form-1'")
        self.assertEqual(row, [[str(b1["case"]), "+84912345678", "111", "bao-ve-tre-em", "lan",
                                "normalClearing", "t", "t", "t", "t"]])
        client = self.pg.scalar("SELECT DISTINCT client FROM events "
                                "WHERE body->>'call_id' = 'form-1'")
        self.assertEqual(client, "cti")
        # whole caller numbers stay out of the log
        self.assertNotIn("912345678", self.d.log_text())

    def test_status_shows_the_webhook(self):
        self.alive()
        cti = self.d.status()["cti"]
        self.assertEqual(cti["listen"], "tcp:127.0.0.1:%d" % self.port)
        self.assertGreaterEqual(cti["requests"], 1)
        self.assertEqual(cti["waiting"], 0)
        self.assertRegex(self.d.cli("status").stdout,
                         r"cti webhook +tcp:127\.0\.0\.1:%d, \d+ requests, 0 waiting" % self.port)

    def test_json_call_makes_one_case(self):
        base = {"from": "0356781234", "to": "111", "direction": "in", "callId": "json-1"}
        st1, b1 = self.pbx.post_json({**base, "event": "newCall", "queue": "Bảo vệ trẻ em",
                                      "user": ["Lan", "Tuấn"]})
        st2, b2 = self.pbx.post_json({**base, "event": "answer", "user": "Nguyễn Thị Lan"})
        st3, b3 = self.pbx.post_json({**base, "event": "hangup", "cause": "normalClearing"})
        self.assertEqual((st1, st2, st3), (200, 200, 200), (b1, b2, b3))
        self.assertEqual({b1["case"], b2["case"], b3["case"]}, {b1["case"]})
        row = self.pg.query("SELECT caller, queue, operator, ended_at IS NOT NULL "
                            "FROM cases WHERE call_id = 'json-1'")
        self.assertEqual(row, [["0356781234", "Bảo vệ trẻ em", "Nguyễn Thị Lan", "t"]])

    def test_params_in_the_query_string(self):
        q = urllib.parse.urlencode({"event": "newCall", "callId": "query-1", "direction": "in",
                                    "queue": "Đuối nước"})
        status, body = self.pbx.request("POST", PATH + "?" + q, b"", {"Content-Type": FORM})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.pg.scalar("SELECT queue FROM cases WHERE call_id = 'query-1'"),
                         "Đuối nước")

    def test_repeated_new_call_is_one_event(self):
        first = self.pbx.post_form(event="newCall", callId="dup-1", direction="in", to="111")
        again = self.pbx.post_form(event="newCall", callId="dup-1", direction="in", to="111")
        self.assertEqual(first[0], 200)
        self.assertEqual(again[0], 200)
        self.assertEqual(again[1]["case"], first[1]["case"])
        self.assertTrue(again[1]["dup"])
        self.assertEqual(self.events("dup-1"), ["cti:dup-1:offered"])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases WHERE call_id = 'dup-1'"),
                         "1")

    def test_caller_who_gave_up_is_abandoned(self):
        self.pbx.post_form(event="newCall", callId="gone-1", direction="in",
                           **{"from": "anonymous"})
        status, body = self.pbx.post_form(event="hangup", callId="gone-1", direction="in",
                                          cause="cancel")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.events("gone-1"),
                         ["cti:gone-1:abandoned", "cti:gone-1:ended", "cti:gone-1:offered"])
        row = self.pg.query("SELECT caller IS NULL, abandoned_at IS NOT NULL, answered_at IS NULL,"
                            " end_cause FROM cases WHERE call_id = 'gone-1'")
        self.assertEqual(row, [["t", "t", "t", "cancel"]])

    def test_answer_without_a_name(self):
        status, body = self.pbx.post_form(event="answer", callId="noname-1", direction="in")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.pg.scalar("SELECT operator FROM cases WHERE call_id = 'noname-1'"),
                         "unknown")

    def test_outbound_call_is_ignored(self):
        status, body = self.pbx.post_form(event="newCall", callId="out-1", direction="out")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"ignored": "outbound call"})
        self.assertEqual(self.events("out-1"), [])

    def test_wrong_or_missing_token_is_404(self):
        for path in ("/api/v1/cti/" + TOKEN[:-1] + "x", "/api/v1/cti/" + TOKEN + "x",
                     "/api/v1/cti/", "/api/v1/cti", "/" + TOKEN + "/", "/",
                     "/api/v1/cti/" + TOKEN[:-1]):
            status, body = self.pbx.post_form(path=path, event="newCall", callId="tok-1",
                                              direction="in")
            self.assertEqual(status, 404, path)
            self.assertEqual(body["error"], "unauthorized")
        self.assertEqual(self.events("tok-1"), [])
        # the token alone as the path works too: only the last segment counts
        status, _ = self.pbx.post_form(path="/" + TOKEN, event="newCall", callId="tok-2",
                                       direction="in")
        self.assertEqual(status, 200)

    def test_other_methods_are_405(self):
        for method in ("GET", "PUT", "DELETE", "OPTIONS", "PATCH"):
            status, body = self.pbx.request(method, PATH)
            self.assertEqual(status, 405, method)
            self.assertEqual(body["error"], "bad_value")
        self.alive()

    def test_body_past_the_limit_is_413(self):
        # The daemon answers 413 and closes without reading the rest, so a
        # client still sending may see a reset instead: seen is what was read.
        seen = []
        big = form(event="newCall", callId="big-1", direction="in", queue="x" * 20000)
        try:
            seen.append(self.pbx.request("POST", PATH, big, {"Content-Type": FORM})[0])
        except (BrokenPipeError, ConnectionResetError):
            pass
        # chunked, with no Content-Length to check first
        s = self.pbx.raw(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         + FORM.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n", close=False)
        try:
            for _ in range(10):
                s.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")
            seen.append(int(s.recv(4096).split(b" ")[1]))
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        self.assertTrue(seen, "neither request was answered")
        self.assertEqual(set(seen), {413})
        self.assertEqual(self.events("big-1"), [])
        self.alive()

    def test_headers_past_the_limit(self):
        s = self.pbx.raw(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                         + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n", close=False)
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            reply = b""
        s.close()
        self.assertRegex(reply[:12], rb"^(HTTP/1.1 4(00|13)|)$")
        self.alive()

    def lock_events(self):
        lock = EventsLock(self.pg)
        self.addCleanup(lock.release)
        return lock

    def test_bad_requests_are_400(self):
        cases = [
            (form(event="newCall", direction="in"), FORM, "missing_field"),
            (form(event="ring", callId="bad-1"), FORM, "bad_value"),
            (form(callId="bad-1"), FORM, "missing_field"),
            (form(event="newCall", callId="bad-1", direction="sideways"), FORM, "bad_value"),
            (b'{"event":"newCall","callId":', "application/json", "bad_json"),
            (b'["newCall"]', "application/json", "bad_json"),
            (b'{"event":"newCall","callId":"bad-1","from":"\xff\xfe"}', "application/json",
             "bad_json"),
            (b'{"event":"newCall","callId":{"a":1}}', "application/json", "bad_type"),
            (b'{"event":"newCall","callId":"bad-1","user":[1.5]}', "application/json",
             "bad_type"),
        ]
        for body, ctype, code in cases:
            status, reply = self.pbx.request("POST", PATH, body, {"Content-Type": ctype})
            self.assertEqual(status, 400, body)
            self.assertEqual(reply["error"], code, body)
        status, reply = self.pbx.request("POST", PATH, b"event=newCall&callId=bad-1",
                                         {"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEqual(status, 415)
        self.assertEqual(self.events("bad-1"), [])

    def test_hostile_values_are_cleaned(self):
        body = (b"event=newCall&direction=in&callId=evil%00%0a" + b"x" * 300
                + b"&from=%2B8491%0d%0a2345678&queue=%ff%fe%1b[31m")
        status, reply = self.pbx.request("POST", PATH, body, {"Content-Type": FORM})
        self.assertEqual(status, 200, reply)
        row = self.pg.query("SELECT call_id, queue FROM cases WHERE call_id LIKE 'evil%'")
        self.assertEqual(len(row), 1)
        self.assertLessEqual(len(row[0][0].encode()), 128)
        self.assertTrue(row[0][0].startswith("evil??xxx"), row)
        self.assertEqual(row[0][1], "???[31m")

    def test_garbage_and_half_requests_do_not_hurt(self):
        self.pbx.raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200))
        self.pbx.raw(b"GARBAGE / HTTP/9.9\r\n\r\n")
        self.pbx.raw(b"POST " + PATH.encode() + b" HTTP/1.1\r\nContent-Len")
        self.pbx.raw(http_post(PATH, b"event=newCall&callId=half-1&direction=in" * 10)[:150])
        self.alive()
        self.assertEqual(self.events("half-1"), [])

    def test_idle_connection_is_dropped_and_others_go_on(self):
        s = self.pbx.raw(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n", close=False)
        t0 = time.time()
        self.alive()
        s.settimeout(30)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        s.close()
        waited = time.time() - t0
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:80])
        self.assertLess(waited, 20, "an idle connection was held past the timeout")

    def test_client_gone_before_the_reply(self):
        # While the store cannot finish, the clients go: one closes, one resets.
        lock = self.lock_events()
        self.pbx.raw(http_post(PATH, b"event=newCall&callId=left-1&direction=in"))
        s = self.pbx.raw(http_post(PATH, b"event=newCall&callId=left-2&direction=in"),
                         close=False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        time.sleep(0.5)
        s.close()  # a reset, not a FIN
        time.sleep(0.5)
        lock.release()
        # libevent 2.1 notices the client only when the reply is written
        # (2.2 may notice sooner): either way the events are kept
        wait_for(lambda: len(self.events("left-1")) == 1 and len(self.events("left-2")) == 1)
        self.alive()


class Stop(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, sets=(), start=True):
        d = Daemon(self.pg, sets=list(sets))
        self.addCleanup(d.destroy)
        self.addCleanup(self.stop_clean, d)
        if start:
            d.start()
            d.wait_log("database: connected")
        return d

    @staticmethod
    def stop_clean(d):
        if os.path.exists(d.log):
            d.stop()
            assert_clean(d)

    def test_sigterm_answers_what_it_took(self):
        port = free_port()
        d = self.daemon(cti_sets(port))
        lock = EventsLock(self.pg)
        self.addCleanup(lock.release)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("POST", PATH, form(event="newCall", callId="term-1", direction="in"),
                     {"Content-Type": FORM})
        time.sleep(0.3)
        d.signal(signal.SIGTERM)
        d.wait_log("SIGTERM: stopping")
        # no new connection is taken while stopping
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).recv(1)
        lock.release()
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn("case", json.loads(r.read()))
        conn.close()
        self.assertEqual(d.proc.wait(timeout=20), 0)
        self.assertIn("stopped: everything received was stored and acknowledged", d.log_text())

    def test_database_away_is_503(self):
        """With the spool off; test_spool.py has the webhook answered spooled."""
        port = free_port()
        d = self.daemon(cti_sets(port) + ['spool.dir=""'])
        pbx = Pbx(port)
        self.assertEqual(pbx.post_form(event="newCall", callId="db-1", direction="in")[0], 200)
        self.pg.stop()
        d.wait_log("retrying with backoff")
        status, body = pbx.post_form(event="newCall", callId="db-2", direction="in")
        self.assertEqual(status, 503)
        self.assertEqual(body["error"], "unavailable")
        self.pg.start()
        d.wait_log("database: connected again", timeout=30)
        status, body = pbx.post_form(event="newCall", callId="db-2", direction="in")
        self.assertEqual(status, 200, body)
        self.assertNotIn("dup", body)

    def test_off_by_default(self):
        d = self.daemon()
        self.assertNotIn("cti:", d.log_text())
        self.assertIsNone(d.status()["cti"])
        listening = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A":
                        listening.add(cols[9])
        fds = os.listdir(f"/proc/{d.proc.pid}/fd")
        inodes = set()
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{d.proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        self.assertTrue(inodes, "the daemon has sockets (bridge, console)")
        self.assertEqual(inodes & listening, set())

    def test_cannot_listen_is_refused_at_start(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        d = self.daemon(cti_sets(busy.getsockname()[1]), start=False)
        d.start(wait=False)
        self.assertEqual(d.proc.wait(timeout=30), 1)
        self.assertIn("cti.listen:", d.log_text())

    def test_check_config(self):
        check = self.daemon(start=False).check_config
        r = check('cti.listen="tcp:127.0.0.1:8111"', f'cti.token="{TOKEN}"')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = check('cti.listen="tcp:127.0.0.1:8111"')
        self.assertEqual(r.returncode, 1)
        self.assertIn("cti.token: must be set when cti.listen is", r.stderr)
        for bad in ("a/b", "with space", "p%41th", "ư"):
            r = check('cti.listen="tcp:127.0.0.1:8111"', f'cti.token="{bad}"')
            self.assertEqual(r.returncode, 1, bad)
            self.assertIn("cti.token: only letters, digits", r.stderr)
        r = check('cti.listen="127.0.0.1:8111"', f'cti.token="{TOKEN}"')
        self.assertEqual(r.returncode, 1)
        self.assertIn("cti.listen:", r.stderr)
        r = check(f'cti.token="{TOKEN}"')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_valgrind_clean_with_requests(self):
        with open(DAEMON, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("built with AddressSanitizer; valgrind cannot run it")
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        port = free_port()
        d = self.daemon(cti_sets(port), start=False)
        supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
        d.start_under(["valgrind", "--error-exitcode=9", "--leak-check=full",
                       "--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp])
        d.wait_log("database: connected", timeout=60)
        pbx = Pbx(port)
        for i in range(5):
            self.assertEqual(pbx.post_form(event="newCall", callId=f"vg-{i}",
                                           direction="in")[0], 200)
        self.assertEqual(pbx.post_form(event="nope", callId="vg")[0], 400)
        pbx.raw(http_post(PATH, b"event=hangup&callId=vg-0&cause=cancel"))
        idle = pbx.raw(b"POST " + PATH.encode() + b" HTTP/1.1\r\n", close=False)
        wait_for(lambda: self.pg.scalar("SELECT count(*) FROM events "
                                        "WHERE body->>'call_id' = 'vg-0'") == "3", timeout=60)
        self.assertEqual(d.stop(timeout=60), 0, d.log_text()[-3000:])
        idle.close()
        self.assertIn("All heap blocks were freed", d.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
