"""The reliability contract: an acknowledged event is never lost, and no
input makes the daemon grow without bound. SIGKILL mid-stream, PostgreSQL
stopped mid-stream, a graceful stop, flow control, hostile streams."""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, wait_for  # noqa: E402


def line(prefix, i):
    return (b'{"id":"%s-%d","type":"call.offered","call_id":"%s-%d","caller":"+849%08d"}\n'
            % (prefix.encode(), i, prefix.encode(), i, i))


class Reader(threading.Thread):
    """Collects replies on a client until the connection ends or `want` arrive."""

    def __init__(self, client, want):
        super().__init__(daemon=True)
        self.client, self.want, self.replies, self.error = client, want, [], None

    def run(self):
        try:
            while len(self.replies) < self.want:
                self.replies.append(self.client.recv())
        except Exception as e:  # the daemon went away: that is the test
            self.error = e

    def acked(self):
        return [r["ack"] for r in list(self.replies) if "ack" in r]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


class Durability(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=sets)
        self.addCleanup(d.destroy)
        return d.start()

    def stored(self, prefix):
        return {r[0] for r in self.pg.query(
            "SELECT event_id FROM events WHERE event_id LIKE '%s-%%'" % prefix)}

    def test_sigkill_mid_stream_loses_no_acked_event(self):
        d = self.daemon()
        n = 6000
        c = Client(d.bridge)
        reader = Reader(c, n)
        reader.start()
        sender = threading.Thread(target=lambda: self._send_slowly(c, "k", n), daemon=True)
        sender.start()
        wait_for(lambda: len(reader.replies) >= 1500 or reader.error, timeout=60, step=0.005)
        self.assertIsNone(reader.error)
        d.kill9()
        reader.join(10)
        acked_before = reader.acked()
        self.assertGreaterEqual(len(acked_before), 1500)
        self.assertLess(len(acked_before), n, "the kill came too late to test anything")
        self.assertTrue(set(acked_before) <= self.stored("k"))
        first_case = {r["ack"]: r["case"] for r in reader.replies if "ack" in r}
        # Restart; the PBX resends everything it sent.
        d.start()
        c2 = Client(d.bridge)
        c2.sock.sendall(b"".join(line("k", i) for i in range(n)))
        replies = [c2.recv() for _ in range(n)]
        self.assertEqual([r["ack"] for r in replies], ["k-%d" % i for i in range(n)])
        for r in replies:
            if r["ack"] in first_case:
                self.assertTrue(r.get("dup"), r)
                self.assertEqual(r["case"], first_case[r["ack"]])
        self.assertEqual(len(self.stored("k")), n)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases WHERE call_id LIKE 'k-%'"), str(n))
        c2.close()

    def _send_slowly(self, c, prefix, n, chunk=100, pause=0.002):
        try:
            for start in range(0, n, chunk):
                c.send_raw(b"".join(line(prefix, i) for i in range(start, min(n, start + chunk))))
                time.sleep(pause)
        except OSError:
            pass  # the daemon was killed under us

    def test_postgres_stopped_mid_stream(self):
        d = self.daemon()
        n = 3000
        c = Client(d.bridge)
        reader = Reader(c, n)
        reader.start()
        sender = threading.Thread(target=lambda: self._send_slowly(c, "p", n, 50, 0.005),
                                  daemon=True)
        sender.start()
        wait_for(lambda: len(reader.replies) >= 500 or reader.error, timeout=60, step=0.005)
        self.assertIsNone(reader.error)
        self.pg.stop()
        d.wait_log("database:", timeout=10)
        time.sleep(0.5)
        during = len(reader.replies)
        time.sleep(2.5)
        self.assertEqual(len(reader.replies), during, "acks while the database was down")
        acked_while_up = set(reader.acked())
        self.pg.start()
        reader.join(60)
        self.assertIsNone(reader.error)
        self.assertEqual(len(reader.replies), n)
        self.assertEqual(reader.acked(), ["p-%d" % i for i in range(n)])
        self.assertFalse([r for r in reader.replies if r.get("dup")])
        stored = self.stored("p")
        self.assertTrue(acked_while_up <= stored)
        self.assertEqual(len(stored), n)
        d.wait_log("database: connected again")
        c.close()

    def test_graceful_stop_stores_and_acks_what_it_read(self):
        d = self.daemon()
        n = 4000
        c = Client(d.bridge)
        reader = Reader(c, n)
        reader.start()
        c.sock.sendall(b"".join(line("g", i) for i in range(n)))
        wait_for(lambda: reader.replies or reader.error, timeout=60, step=0.001)
        self.assertIsNone(reader.error)
        d.signal(signal.SIGTERM)
        reader.join(30)
        self.assertEqual(d.proc.wait(20), 0)
        acked = reader.acked()
        self.assertEqual(acked, ["g-%d" % i for i in range(len(acked))])
        self.assertEqual(set(acked), self.stored("g"))
        self.assertIn("stopped: everything received was stored and acknowledged", d.log_text())

    def test_window_stops_reading_until_acks_catch_up(self):
        d = self.daemon("bridge.window=5")
        # Hold the events table so the first batch cannot commit.
        lock = subprocess.Popen(["psql", self.pg.conninfo, "-Xq", "-c",
                                 "BEGIN; LOCK TABLE events; SELECT pg_sleep(2); COMMIT;"],
                                stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        c = Client(d.bridge)
        c.sock.sendall(b"".join(line("w", i) for i in range(50)))
        d.wait_log("window full", timeout=5)
        lock.wait(30)
        replies = [c.recv() for _ in range(50)]
        self.assertEqual([r["ack"] for r in replies], ["w-%d" % i for i in range(50)])
        self.assertEqual(len(self.stored("w")), 50)
        c.close()

    def test_hostile_streams_do_not_grow_memory(self):
        d = self.daemon("bridge.max_line=65536")
        base = rss_kb(d.proc.pid)
        # 64 MiB without a newline, on four connections at once.
        clients = [Client(d.bridge) for _ in range(4)]
        junk = b"x" * (1 << 20)
        for _ in range(16):
            for c in clients:
                c.send_raw(junk)
        for c in clients:
            c.send_raw(b"\n")
            self.assertEqual(c.recv()["error"], "too_long")
        # Replies nobody reads: the daemon stops reading instead of buffering.
        silent = Client(d.bridge)
        silent.sock.setblocking(False)
        sent = 0
        try:
            for _ in range(2000):
                sent += silent.sock.send(b'{"id":"h","type":"ping"}\n' * 2000)
        except BlockingIOError:
            pass
        time.sleep(0.5)
        grown = rss_kb(d.proc.pid) - base
        self.assertLess(grown, 48 * 1024, f"daemon grew by {grown} kB")
        self.assertEqual(clients[0].call(ev("h-after", "ping"))["ack"], "h-after")
        for c in clients + [silent]:
            c.close()



if __name__ == "__main__":
    unittest.main(verbosity=2)
