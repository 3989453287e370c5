"""The local spool end to end: PostgreSQL stopped under bridge, evapi and
webhook traffic (everything acked as spooled, then stored exactly once,
in order, when it returns), kill -9 during the replay, a torn last record
left by a crash, and a full spool answering unavailable.

PostgreSQL stays down H111_SPOOL_DOWN_S seconds (15 by default; issue 12
asks for 60, which H111_SPOOL_DOWN_S=60 runs)."""
import json
import os
import queue
import shutil
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (  # noqa: E402
    Client, DAEMON, Daemon, FakeServer, Postgres, ev, free_port, http_request, wait_for)

DOWN_S = float(os.environ.get("H111_SPOOL_DOWN_S", "15"))
TOKEN = "spool-test-token_0123456789"
PATH = "/api/v1/cti/" + TOKEN
FORM = "application/x-www-form-urlencoded"



def line(prefix, i):
    return (b'{"id":"%s-%d","type":"call.offered","call_id":"%s-%d","caller":"+849%08d"}\n'
            % (prefix.encode(), i, prefix.encode(), i, i))


def frame(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    return b"%d:%s," % (len(data), data)


class LiveEvapi(FakeServer):
    """A Kamailio evapi end that sends whatever the test puts in its queue,
    as it comes, to the consumer connected."""

    def __init__(self):
        super().__init__()
        self.frames = queue.Queue()

    def session(self, conn):
        while not self.stop:
            try:
                data = self.frames.get(timeout=0.1)
            except queue.Empty:
                continue
            conn.sendall(data)

    def offer(self, callid):
        self.frames.put(frame({"event": "offered", "callid": callid,
                               "time": "%.6f" % time.time(), "caller": "+84912345678",
                               "called": "111"}))


def post(port, call_id):
    status, body = http_request(port, "POST", PATH, "event=newCall&direction=in&callId=%s"
                                % call_id, {"Content-Type": FORM})
    return status, json.loads(body)


class Spool(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=sets)
        self.addCleanup(d.destroy)
        d.start()
        d.wait_log("database: connected")
        wait_for(lambda: d.status()["database"] == "up", timeout=10)
        return d

    def events(self, like):
        """event id -> how many rows hold it."""
        rows = self.pg.query("SELECT event_id, count(*) FROM events WHERE event_id LIKE '%s' "
                             "GROUP BY event_id" % like)
        return {r[0]: int(r[1]) for r in rows}

    def stop_pg(self, d):
        self.pg.stop()
        d.wait_log("events go to the local spool", timeout=20)

    def recv_all(self, c, n):
        return [c.recv() for _ in range(n)]

    def test_postgres_down_bridge_evapi_webhook_spooled_then_stored_once(self):
        evapi = LiveEvapi().serve(self)
        port = free_port()
        d = self.daemon('sources=( { type = "evapi"; connect = "tcp:127.0.0.1:%d"; '
                        'name = "k1"; } )' % evapi.port,
                        f'cti.listen="tcp:127.0.0.1:{port}"', f'cti.token="{TOKEN}"')
        wait_for(lambda: d.status()["sources"][0]["state"] == "up", timeout=20)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        c.send_raw(b"".join(line("before", i) for i in range(50)))
        before = self.recv_all(c, 50)
        self.assertTrue(all(isinstance(r.get("case"), int) for r in before), before[:3])

        self.stop_pg(d)
        down_at = time.time()
        acks, webhook, evapi_ids, i = [], [], [], 0
        while time.time() - down_at < DOWN_S:
            c.send_raw(b"".join(line("down", i * 20 + k) for k in range(20)))
            acks += self.recv_all(c, 20)
            webhook.append(post(port, "wh-%d" % i))
            evapi.offer("ev-%d@pbx" % i)
            evapi_ids.append("ev-%d@pbx" % i)
            i += 1
            time.sleep(0.2)
        n = i * 20
        self.assertEqual([r.get("ack") for r in acks], ["down-%d" % k for k in range(n)])
        self.assertTrue(all(r.get("spooled") is True and r.get("case") is None for r in acks),
                        [r for r in acks if not r.get("spooled")][:3])
        self.assertTrue(all(s == 200 and b.get("spooled") is True for s, b in webhook),
                        webhook[:3])
        # evapi frames are read while the database is away: they reach the spool
        wait_for(lambda: d.status()["spool"]["records"] >= n + 2 * i, timeout=20)
        st = d.status()
        self.assertEqual(st["database"], "down")
        self.assertGreater(st["spool"]["bytes"], 0)
        text = d.cli("status").stdout
        self.assertIn("events to replay", text)

        depth = st["spool"]
        self.pg.start()
        t0 = time.time()
        d.wait_log("spool: replay done", timeout=60)
        replay_s = time.time() - t0
        wait_for(lambda: d.status()["spool"]["records"] == 0, timeout=10)
        stored = self.events("down-%")
        self.assertEqual(len(stored), n)
        self.assertEqual(set(stored.values()), {1})
        wh = self.events("cti:wh-%")
        self.assertEqual(len(wh), i)
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE call_id LIKE 'ev-%@pbx'")), i)
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE call_id LIKE 'down-%'")), n)
        # in order: the spooled events were received before anything after
        after = c.call(ev("after-1", "call.offered", call_id="after-1"))
        self.assertIsInstance(after["case"], int)
        self.assertNotIn("spooled", after)
        # replayed in order: each call's case was opened in the order received
        order = self.pg.query("SELECT call_id FROM cases WHERE call_id LIKE 'down-%' "
                              "ORDER BY id")
        self.assertEqual([r[0] for r in order], ["down-%d" % k for k in range(n)])
        print("\nPostgreSQL down %.0f s: %d bridge events, %d webhook requests and %d evapi "
              "frames acked spooled; spool %d events, %d bytes; stored once each after "
              "%.1f s (PostgreSQL start and replay)" % (DOWN_S, n, i, i, depth["records"],
                                                         depth["bytes"], replay_s),
              file=sys.stderr)
        self.assertFalse(os.path.exists(os.path.join(d.dir, "spool", "spool.pos")))
        self.assertEqual(os.path.getsize(os.path.join(d.dir, "spool", "spool.dat")), 0)

    def test_kill9_during_replay_loses_and_duplicates_nothing(self):
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.stop_pg(d)
        n = 20000
        sent = 0
        while sent < n:
            c.send_raw(b"".join(line("k", sent + k) for k in range(500)))
            acks = self.recv_all(c, 500)
            self.assertTrue(all(r.get("spooled") for r in acks), acks[:2])
            sent += 500
        c.close()
        self.pg.start()
        d.wait_log("spool: replaying 20000 events", timeout=60)
        wait_for(lambda: int(self.pg.scalar(
            "SELECT count(*) FROM events WHERE event_id LIKE 'k-%'")) > 0, timeout=30,
            step=0.01)
        d.kill9()
        mid = int(self.pg.scalar("SELECT count(*) FROM events WHERE event_id LIKE 'k-%'"))
        self.assertLess(mid, n, "the replay was over before the kill")
        d.start()
        d.wait_log("spool: replay done", timeout=60)
        stored = self.events("k-%")
        self.assertEqual(len(stored), n)
        self.assertEqual(set(stored.values()), {1})
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE call_id LIKE 'k-%'")), n)

    def test_events_during_a_replay_join_the_spool_behind_it(self):
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.stop_pg(d)
        n = 10000
        for s in range(0, n, 500):
            c.send_raw(b"".join(line("r", s + k) for k in range(500)))
            self.assertTrue(all(r.get("spooled") for r in self.recv_all(c, 500)))
        self.pg.start()
        d.wait_log("spool: replaying %d events" % n, timeout=60)
        c.send_raw(b"".join(line("late", k) for k in range(10)))
        late = self.recv_all(c, 10)
        self.assertEqual([r["ack"] for r in late], ["late-%d" % k for k in range(10)])
        self.assertTrue(all(r.get("spooled") for r in late), late)
        d.wait_log("spool: replay done", timeout=60)
        order = [r[0] for r in self.pg.query(
            "SELECT call_id FROM cases WHERE call_id LIKE 'r-%' OR call_id LIKE 'late-%' "
            "ORDER BY id")]
        self.assertEqual(order, ["r-%d" % k for k in range(n)] + ["late-%d" % k for k in range(10)])
        after = c.call(ev("after-1", "call.offered", call_id="after-1"))
        self.assertIsInstance(after["case"], int)

    def test_torn_last_record_is_reported_and_cut_off(self):
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.stop_pg(d)
        c.send_raw(b"".join(line("t", i) for i in range(10)))
        self.assertTrue(all(r.get("spooled") for r in self.recv_all(c, 10)))
        c.close()
        d.kill9()
        path = os.path.join(d.dir, "spool", "spool.dat")
        good = os.path.getsize(path)
        with open(path, "ab") as f:  # a crash in the middle of an append
            f.write(b"h1s1\x40\x00\x00\x00\x00\x00\x00\x00{\"ev\":{\"id\":\"t-torn\"")
        self.pg.start()
        d.start()
        d.wait_log("spool: a torn last record at offset %d" % good)
        d.wait_log("spool: replay done", timeout=30)
        self.assertEqual(len(self.events("t-%")), 10)
        self.assertEqual(self.events("t-torn"), {})

    def test_full_spool_answers_unavailable_and_keeps_what_it_acked(self):
        d = self.daemon("spool.max_mb=1")
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.stop_pg(d)
        replies, i = [], 0
        while not any("nack" in r for r in replies) and i < 20000:
            c.send_raw(b"".join(line("f", i + k) for k in range(100)))
            replies += self.recv_all(c, 100)
            i += 100
        spooled = [r["ack"] for r in replies if r.get("spooled")]
        refused = [r for r in replies if "nack" in r]
        self.assertTrue(spooled and refused)
        self.assertEqual({r["error"] for r in refused}, {"unavailable"})
        first = next(k for k, r in enumerate(replies) if "nack" in r)
        self.assertTrue(all("nack" in r for r in replies[first:]), "order kept: none after")
        more = c.call(ev("f-small", "call.offered", call_id="s"))
        self.assertEqual(more.get("error"), "unavailable", "refused until the database returns")
        self.assertIn("spool is full", refused[0]["detail"])
        d.wait_log("events are answered unavailable until the database returns")
        self.assertLessEqual(d.status()["spool"]["bytes"], 1024 * 1024)
        self.pg.start()
        d.wait_log("spool: replay done", timeout=60)
        self.assertEqual(set(self.events("f-%")), set(spooled))

    def test_valgrind_spool_and_replay(self):
        with open(DAEMON, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("built with AddressSanitizer; valgrind cannot run it")
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        d = Daemon(self.pg)
        self.addCleanup(d.destroy)
        supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
        d.start_under(["valgrind", "--error-exitcode=9", "--leak-check=full",
                       "--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp])
        d.wait_log("database: connected", timeout=60)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.stop_pg(d)
        c.send_raw(b"".join(line("vg", i) for i in range(50)))
        self.assertTrue(all(r.get("spooled") for r in self.recv_all(c, 50)))
        self.pg.start()
        d.wait_log("spool: replay done", timeout=120)
        self.assertEqual(len(self.events("vg-%")), 50)
        c.close()
        self.assertEqual(d.stop(timeout=60), 0, d.log_text()[-3000:])
        self.assertIn("All heap blocks were freed", d.log_text())

    def test_spool_off_pauses_intake(self):
        d = self.daemon('spool.dir=""')
        self.assertIsNone(d.status()["spool"])
        self.assertIn("spool: off", d.log_text())
        self.pg.stop()
        d.wait_log("retrying with backoff", timeout=20)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        c.send(ev("off-1", "call.offered", call_id="off-1"))
        c.sock.settimeout(1.5)
        with self.assertRaises(socket.timeout):
            c.recv_line()
        c.sock.settimeout(30)
        self.pg.start()
        r = c.recv()
        self.assertEqual(r["ack"], "off-1")
        self.assertNotIn("spooled", r)

    def test_second_daemon_on_the_same_spool_is_refused(self):
        d = self.daemon()
        other = Daemon(self.pg, sets=['spool.dir="%s/spool"' % d.dir,
                                      'bridge.listen=["unix:%s/b2.sock"]' % d.dir,
                                      'console.listen=["unix:%s/c2.sock"]' % d.dir])
        self.addCleanup(other.destroy)
        other.start(wait=False)
        self.assertNotEqual(other.proc.wait(30), 0)
        self.assertIn("another hotline111d uses this spool", other.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
