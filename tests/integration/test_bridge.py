"""Bridge protocol v1 end to end: the real daemon, a real PostgreSQL, a
client on the real socket. What hotline111-bridge(7) promises is asserted
here, line by line."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, DaemonTest, Postgres, ev  # noqa: E402


class Bridge(DaemonTest):
    sets = ["bridge.max_line=2048", "bridge.max_clients=8",
                                     "bridge.window=64"]

    def test_hello_on_connect(self):
        self.assertEqual(self.client().greeting, {"hello": "hotline111", "proto": 1})

    def test_ack_shape_and_case(self):
        c = self.client()
        r = c.call(ev("b-ack-1", "call.offered", call_id="b-call-1", caller="+84912345678",
                      province="Hà Nội"))
        self.assertEqual(r["ack"], "b-ack-1")
        self.assertIsInstance(r["case"], int)
        self.assertEqual(r["priority"], 4)
        self.assertIsNone(r["category"])
        self.assertEqual(r["rules"], [])
        self.assertNotIn("dup", r)
        row = self.pg.query("SELECT caller, province, status FROM cases WHERE id = %d" % r["case"])
        self.assertEqual(row, [["+84912345678", "Hà Nội", "open"]])
        body = self.pg.scalar("SELECT body->>'caller' FROM events WHERE event_id = 'b-ack-1'")
        self.assertEqual(body, "+84912345678")

    def test_ping(self):
        self.assertEqual(self.client().call(ev("b-ping", "ping")), {"ack": "b-ping", "pong": True})
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events WHERE event_id = 'b-ping'"), "0")

    def test_dup_returns_first_result(self):
        c = self.client()
        first = c.call(ev("b-dup-1", "ticket.created", ticket_id="b-t-dup", category="neglect"))
        again = c.call(ev("b-dup-1", "ticket.created", ticket_id="b-t-other", category="online"))
        self.assertTrue(again["dup"])
        self.assertEqual(again["case"], first["case"])
        self.assertEqual(again["category"], "neglect")
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM tickets WHERE ticket_id = 'b-t-other'"), "0")

    def test_call_and_ticket_form_one_case(self):
        c = self.client()
        a = c.call(ev("b-j-1", "call.offered", call_id="b-call-j"))
        b = c.call(ev("b-j-2", "call.answered", call_id="b-call-j", operator="lan"))
        t = c.call(ev("b-j-3", "ticket.created", ticket_id="b-t-j", call_id="b-call-j",
                      text="Cháu hỏi thông tin", category="info"))
        u = c.call(ev("b-j-4", "ticket.updated", ticket_id="b-t-j", text="ghi chú thêm"))
        x = c.call(ev("b-j-5", "ticket.closed", ticket_id="b-t-j", outcome="counselled"))
        self.assertEqual({a["case"], b["case"], t["case"], u["case"], x["case"]}, {a["case"]})
        row = self.pg.query("SELECT operator, category, status, outcome FROM cases WHERE id = %d"
                            % a["case"])
        self.assertEqual(row, [["lan", "info", "closed", "counselled"]])
        self.assertEqual(self.pg.scalar("SELECT text FROM notes WHERE case_id = %d" % a["case"]),
                         "ghi chú thêm")
        self.assertEqual(self.pg.scalar("SELECT action FROM audit WHERE case_id = %d" % a["case"]),
                         "case.close")

    def test_out_of_order_opens_the_case(self):
        c = self.client()
        t = c.call(ev("b-o-1", "ticket.created", ticket_id="b-t-o", call_id="b-call-o",
                      text="gọi lại sau"))
        a = c.call(ev("b-o-2", "call.offered", call_id="b-call-o", caller="+84900000001"))
        e = c.call(ev("b-o-3", "call.ended", call_id="b-call-o", duration_s=42))
        self.assertEqual(t["case"], a["case"])
        self.assertEqual(e["case"], a["case"])
        u = c.call(ev("b-o-4", "ticket.updated", ticket_id="b-t-late", text="x"))
        self.assertNotEqual(u["case"], a["case"])

    def test_every_event_type_is_accepted(self):
        c = self.client()
        lines = [
            ev("b-all-1", "call.offered", call_id="b-all", caller="+84911111111", line="111",
               queue="main", ivr=["1", "2"], province="Nghệ An", district="Vinh", lang="vi",
               ts="2026-07-05T06:04:00+07:00"),
            ev("b-all-2", "call.answered", call_id="b-all", operator="mai"),
            ev("b-all-3", "call.transferred", call_id="b-all", to="police"),
            ev("b-all-4", "call.abandoned", call_id="b-all-x", wait_s=31.5),
            ev("b-all-5", "call.ended", call_id="b-all", duration_s=300, cause="normal"),
            ev("b-all-6", "ticket.created", ticket_id="b-all-t", call_id="b-all", operator="mai",
               text="trẻ bị bỏ rơi", category="abandonment", child_age=3, child_gender="female",
               province="Nghệ An", district="Vinh", tags=["night"]),
            ev("b-all-7", "ticket.updated", ticket_id="b-all-t", text="đã liên hệ xã", child_age=4),
            ev("b-all-8", "ticket.closed", ticket_id="b-all-t", outcome="referred",
               referred_to="commune", text="chuyển xã"),
        ]
        for line in lines:
            r = c.call(line)
            self.assertEqual(r.get("ack"), line["id"], r)
        row = self.pg.query("SELECT ivr, transferred_to, duration_s, child_age, referred_to, "
                            "offered_at AT TIME ZONE 'UTC' FROM cases WHERE call_id = 'b-all'")
        self.assertEqual(row, [["12", "police", "300", "4", "commune", "2026-07-04 23:04:00"]])

    def test_nacks_keep_the_connection(self):
        c = self.client()
        cases = [
            (b'{"id":"x"', None, "bad_json"),
            (b'[1,2]', None, "bad_json"),
            (b'{"id":"b-n-1"}', "b-n-1", "missing_field"),
            (b'{"id":"b-n-1b","type":7}', "b-n-1b", "bad_type"),
            (b'{"id":"b-n-2","type":"call.exploded"}', "b-n-2", "bad_type"),
            (b'{"id":"b-n-3","type":"call.answered","call_id":"c"}', "b-n-3", "missing_field"),
            (b'{"id":"b-n-4","type":"ticket.created","ticket_id":"t","child_age":"ten"}', "b-n-4",
             "bad_value"),
            (b'{"id":"b-n-5","type":"call.offered","call_id":"c","ts":"2026-02-30T00:00:00Z"}',
             "b-n-5", "bad_value"),
            (b'{"id":"b-n-6","type":"ping","x":"\xff\xfe"}', None, "bad_json"),
            (b'{"id":"b-n-7","type":"ping","id":"dup"}', None, "bad_json"),
            (b'[' * 40 + b']' * 40, None, "bad_json"),
            (b'{"type":"call.offered","call_id":"c"}', None, "missing_field"),
        ]
        for raw, nid, code in cases:
            c.send_raw(raw + b"\n")
            r = c.recv()
            self.assertEqual(r.get("nack", "absent"), nid, (raw, r))
            self.assertEqual(r["error"], code, (raw, r))
            self.assertTrue(r["detail"])
        self.assertEqual(c.call(ev("b-n-ok", "ping")), {"ack": "b-n-ok", "pong": True})

    def test_too_long_line_is_skipped_to_its_newline(self):
        c = self.client()
        c.send_raw(b'{"id":"b-long","type":"ping","pad":"' + b"x" * 5000 + b'"}\n')
        r = c.recv()
        self.assertEqual((r["nack"], r["error"]), (None, "too_long"))
        # A line over the limit that arrives in pieces is skipped the same way.
        c.send_raw(b'{"id":"b-long2","type":"ping","pad":"' + b"y" * 3000)
        time.sleep(0.1)
        c.send_raw(b"y" * 3000 + b'"}\n')
        self.assertEqual(c.recv()["error"], "too_long")
        self.assertEqual(c.call(ev("b-after-long", "ping"))["ack"], "b-after-long")

    def test_replies_in_order_with_nacks_between_acks(self):
        c = self.client()
        batch = b""
        expect = []
        for i in range(200):
            if i % 7 == 3:
                batch += b"not json\n"
                expect.append(None)
            else:
                batch += (b'{"id":"b-ord-%d","type":"call.offered","call_id":"b-ord-%d"}\n' % (i, i))
                expect.append("b-ord-%d" % i)
        c.send_raw(batch)
        got = []
        for _ in expect:
            r = c.recv()
            got.append(r.get("ack") if "ack" in r else r["nack"])
        self.assertEqual(got, expect)

    def test_max_clients(self):
        clients = [self.client() for _ in range(8)]
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.settimeout(5)
        extra.connect(self.d.bridge)
        data = extra.recv(4096)
        extra.close()
        self.assertIn(b'"error":"unavailable"', data)
        self.assertEqual(clients[0].call(ev("b-mc", "ping"))["ack"], "b-mc")
        for c in clients:
            c.close()
        # The slots free up once the daemon has seen the closes.
        for _ in range(100):
            c = Client(self.d.bridge)
            c.close()
            if c.greeting.get("hello"):
                break
            time.sleep(0.05)
        self.assertEqual(c.greeting, {"hello": "hotline111", "proto": 1})

    def test_ten_thousand_events_in_order_each_stored_once(self):
        c = self.client()
        n = 10000
        payload = b"".join(b'{"id":"b-10k-%d","type":"call.offered","call_id":"b-10k-%d",'
                           b'"caller":"+8490%07d"}\n' % (i, i, i) for i in range(n))
        # Sent while the acks are read: the daemon stops reading a client
        # that does not read its acks (hotline111-bridge(7)), so one
        # sendall of it all before reading waits on the machine's speed.
        sender = threading.Thread(target=c.sock.sendall, args=(payload,))
        sender.start()
        cases = []
        for i in range(n):
            r = c.recv()
            self.assertEqual(r.get("ack"), "b-10k-%d" % i)
            cases.append(r["case"])
        self.assertEqual(len(set(cases)), n)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events WHERE event_id LIKE 'b-10k-%'"),
                         str(n))
        sender.join()
        # Resent: every one a dup with its first case, nothing stored twice.
        sender = threading.Thread(target=c.sock.sendall, args=(payload,))
        sender.start()
        for i in range(n):
            r = c.recv()
            self.assertTrue(r.get("dup"), r)
            self.assertEqual(r["case"], cases[i])
        sender.join()
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases WHERE call_id LIKE 'b-10k-%'"),
                         str(n))


class Tcp(unittest.TestCase):
    """The same protocol on a TCP listener beside the Unix one."""

    def test_tcp_listener(self):
        pg = Postgres()
        self.addCleanup(pg.destroy)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        d = Daemon(pg, sets=['bridge.listen=[ "unix:BRIDGE", "tcp:127.0.0.1:%d" ]' % port])
        d.sets[0] = d.sets[0].replace("BRIDGE", d.bridge)
        self.addCleanup(d.destroy)
        d.start()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = s.makefile("rwb")
        self.assertEqual(json.loads(f.readline()), {"hello": "hotline111", "proto": 1})
        f.write(b'{"id":"tcp-1","type":"call.offered","call_id":"tcp-c1"}\n')
        f.flush()
        self.assertEqual(json.loads(f.readline())["ack"], "tcp-1")
        s.close()
        self.assertEqual(Client(d.bridge).call(ev("tcp-2", "ping"))["ack"], "tcp-2")
        self.assertEqual(d.stop(), 0)


class Tokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.d = Daemon(cls.pg, sets=['bridge.tokens = ( { client = "asterisk-hn"; '
                                     'token = "s3cret"; } )']).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.destroy()
        cls.pg.destroy()

    def test_right_token(self):
        c = Client(self.d.bridge)
        self.addCleanup(c.close)
        self.assertEqual(c.call({"type": "hello", "client": "asterisk-hn", "token": "s3cret"}),
                         {"welcome": "asterisk-hn"})
        self.assertEqual(c.call(ev("tk-1", "call.offered", call_id="tk-1"))["ack"], "tk-1")
        self.assertEqual(self.pg.scalar("SELECT client FROM events WHERE event_id = 'tk-1'"),
                         "asterisk-hn")

    def test_wrong_token_is_refused_and_closed(self):
        c = Client(self.d.bridge)
        self.addCleanup(c.close)
        r = c.call({"type": "hello", "client": "asterisk-hn", "token": "guess"})
        self.assertEqual((r["nack"], r["error"]), (None, "unauthorized"))
        self.assertTrue(c.closed())

    def test_event_before_hello_is_refused(self):
        c = Client(self.d.bridge)
        self.addCleanup(c.close)
        r = c.call(ev("tk-early", "call.offered", call_id="tk-early"))
        self.assertEqual((r["nack"], r["error"]), ("tk-early", "unauthorized"))
        self.assertTrue(c.closed())
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM events WHERE event_id = 'tk-early'"), "0")


class Slots(unittest.TestCase):
    """Connections that never log in, or go quiet, give their slots back:
    bridge.login_timeout and bridge.idle_timeout."""

    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=list(sets))
        self.addCleanup(d.destroy)
        return d.start()

    def test_silent_connections_do_not_keep_the_pbx_out(self):
        d = self.daemon('bridge.tokens = ( { client = "pbx"; token = "s3cret"; } )',
                        "bridge.max_clients = 32", "bridge.login_timeout = 1")
        silent = [Client(d.bridge) for _ in range(32)]
        for c in silent:
            self.addCleanup(c.close)
        late = Client(d.bridge, hello=False)
        self.addCleanup(late.close)
        self.assertEqual(late.recv()["error"], "unavailable")
        # a second later each silent one is told why and let go
        for c in silent:
            r = c.recv()
            self.assertEqual((r["error"], r["detail"]), ("unauthorized", "no hello within 1 s"))
            self.assertTrue(c.closed())
        d.wait_log("closing bridge[32]: no hello in time")
        start = time.time()
        while True:
            pbx = Client(d.bridge)
            self.addCleanup(pbx.close)
            if pbx.greeting.get("hello"):
                break
            self.assertLess(time.time() - start, 10, "the PBX was kept out")
            time.sleep(0.05)
        self.assertEqual(pbx.call({"type": "hello", "client": "pbx", "token": "s3cret"}),
                         {"welcome": "pbx"})
        time.sleep(1.5)  # logged in: the login timeout is off
        self.assertEqual(pbx.call(ev("sl-1", "call.offered", call_id="sl-1"))["ack"], "sl-1")

    def test_one_address_cannot_take_every_slot(self):
        """2,000 idle TCP connections from one address hold bridge.max_per_peer
        (32) slots, not max_clients: a token-holding PBX on another address
        gets in at once."""
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        d = self.daemon('bridge.tokens = ( { client = "pbx"; token = "s3cret"; } )',
                        'bridge.listen = [ "tcp:127.0.0.1:%d" ]' % port,
                        "bridge.login_timeout = 120")
        idle = []
        for _ in range(2000):
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            idle.append(s)
        self.addCleanup(lambda: [s.close() for s in idle])
        f = idle[-1].makefile("rb")
        r = json.loads(f.readline())
        self.assertEqual((r["error"], r["detail"]),
                         ("unavailable", "too many connections from this address"))
        self.assertEqual(json.loads(idle[0].makefile("rb").readline()),
                         {"hello": "hotline111", "proto": 1})
        pbx = socket.socket()
        self.addCleanup(pbx.close)
        pbx.settimeout(20)
        pbx.bind(("127.0.0.2", 0))  # another address: the PBX
        pbx.connect(("127.0.0.1", port))
        pf = pbx.makefile("rwb")
        self.assertEqual(json.loads(pf.readline()), {"hello": "hotline111", "proto": 1})
        pf.write(b'{"type":"hello","client":"pbx","token":"s3cret"}\n'
                 b'{"id":"pp-1","type":"call.offered","call_id":"pp-1"}\n')
        pf.flush()
        self.assertEqual(json.loads(pf.readline()), {"welcome": "pbx"})
        self.assertEqual(json.loads(pf.readline())["ack"], "pp-1")
        self.assertEqual(Daemon.status(d)["bridge_clients"], 33)
        log = d.log_text()
        self.assertIn("bridge.max_per_peer (32) reached", log)
        self.assertLess(log.count("bridge.max_per_peer (32) reached"), 100,
                        "a flood of connections is not a flood of log lines")

    def test_no_login_timeout_without_tokens(self):
        d = self.daemon("bridge.login_timeout = 1")
        c = Client(d.bridge)
        self.addCleanup(c.close)
        time.sleep(1.5)
        self.assertEqual(c.call(ev("nl-1", "ping"))["ack"], "nl-1")

    def test_idle_connection_is_closed_one_owed_a_reply_is_not(self):
        d = self.daemon("bridge.idle_timeout = 1")
        quiet = Client(d.bridge)
        self.addCleanup(quiet.close)
        self.assertEqual(quiet.call(ev("id-1", "ping"))["ack"], "id-1")
        busy = Client(d.bridge)
        self.addCleanup(busy.close)
        lock = subprocess.Popen(["psql", self.pg.conninfo, "-XAtq"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        lock.stdin.write("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
        lock.stdin.flush()
        self.assertEqual(lock.stdout.readline().strip(), "locked")
        busy.send(ev("id-2", "call.offered", call_id="id-2"))
        quiet.sock.settimeout(5)
        self.assertTrue(quiet.closed())
        d.wait_log("idle for 1 s")
        time.sleep(1.5)  # its event is still being stored: it waits, it is not idle
        self.assertEqual(d.log_text().count("idle for 1 s"), 1)
        lock.stdin.write("COMMIT;\n")
        lock.stdin.close()
        lock.wait(30)
        self.assertEqual(busy.recv()["ack"], "id-2")


RULES = """
categories = ( { id = "drowning"; label = "Đuối nước"; },
               { id = "neglect"; label = "Bỏ bê"; },
               { id = "trafficking"; label = "Mua bán người"; } );
rules = (
  { name = "drowning-keywords"; text_any = [ "đuối nước", "chết đuối" ];
    category = "drowning"; priority = 1; tags = [ "water" ]; },
  { name = "ivr-trafficking"; ivr = "3"; category = "trafficking"; priority = 2; },
  { name = "repeat-caller"; repeat_caller = { cases = 2; days = 30; }; raise = 1; }
);
"""


class TriageOnIntake(unittest.TestCase):
    """The daemon triages each event before storing it, raise-only, and says why."""

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        fd, cls.rules = tempfile.mkstemp(prefix="h111rules-", suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(RULES)
        cls.d = Daemon(cls.pg, sets=['triage.rules="%s"' % cls.rules]).start()
        cls.c = Client(cls.d.bridge)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.d.stop()
        cls.d.destroy()
        cls.pg.destroy()
        os.unlink(cls.rules)

    def test_text_without_diacritics_raises_to_p1_with_reason(self):
        r = self.c.call(ev("tr-1", "ticket.created", ticket_id="tr-t1",
                           text="CHAU BI DUOI NUOC o ao nha"))
        self.assertEqual((r["priority"], r["category"], r["rules"]),
                         (1, "drowning", ["drowning-keywords"]))
        row = self.pg.query("SELECT priority_before, priority_after, category_after, rules "
                            "FROM triage WHERE event_id = 'tr-1'")
        self.assertEqual(row, [["4", "1", "drowning", "{drowning-keywords}"]])
        self.assertEqual(self.pg.scalar("SELECT tags FROM cases WHERE id = %d" % r["case"]),
                         "{water}")

    def test_raise_only(self):
        a = self.c.call(ev("tr-2", "ticket.created", ticket_id="tr-t2", text="đuối nước"))
        b = self.c.call(ev("tr-3", "ticket.updated", ticket_id="tr-t2", text="cháu đã ổn"))
        self.assertEqual((a["priority"], b["priority"]), (1, 1))
        self.assertEqual(b["rules"], ["drowning-keywords"])
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM triage WHERE event_id IN "
                                        "('tr-2', 'tr-3')"), "2")

    def test_operator_category_is_kept(self):
        r = self.c.call(ev("tr-4", "ticket.created", ticket_id="tr-t4", category="neglect",
                           text="mẹ bỏ đi, bé suýt chết đuối"))
        self.assertEqual((r["priority"], r["category"]), (1, "neglect"))
        u = self.c.call(ev("tr-5", "ticket.updated", ticket_id="tr-t4", text="đuối nước lần nữa"))
        self.assertEqual(u["category"], "neglect")

    def test_ivr_routes_a_call(self):
        r = self.c.call(ev("tr-6", "call.offered", call_id="tr-c6", ivr=["3"]))
        self.assertEqual((r["priority"], r["category"], r["rules"]),
                         (2, "trafficking", ["ivr-trafficking"]))

    def test_repeat_caller_counted_in_the_database(self):
        got = [self.c.call(ev("rc-%d" % i, "call.offered", call_id="rc-c%d" % i,
                              caller="+84987654321"))
               for i in range(4)]
        self.assertEqual([g["priority"] for g in got], [4, 4, 3, 3])
        self.assertEqual(got[2]["rules"], ["repeat-caller"])
        other = self.c.call(ev("rc-x", "call.offered", call_id="rc-cx", caller="+84911111111"))
        self.assertEqual((other["priority"], other["rules"]), (4, []))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM triage WHERE event_id LIKE 'rc-%'"),
                         "5", "a decision for each call of a number the rules count")

    def test_word_boundary(self):
        r = self.c.call(ev("tr-7", "ticket.created", ticket_id="tr-t7",
                           text="hỏi về chương trình phòng chống đuối"))
        self.assertEqual((r["priority"], r["category"], r["rules"]), (4, None, []))


if __name__ == "__main__":
    unittest.main(verbosity=2)
