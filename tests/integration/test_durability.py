"""The reliability contract: an acknowledged event is never lost, and no
input makes the daemon grow without bound. SIGKILL mid-stream, PostgreSQL
stopped mid-stream, a graceful stop, flow control, hostile streams."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, Client, Daemon, Postgres, ev, wait_for  # noqa: E402


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


def sanitized():
    """Whether the daemon was built with AddressSanitizer (.ci/run), whose
    shadow memory and quarantine weigh more than the 50 MB bound: then only
    the growth during a flood is held to a bound."""
    with open(DAEMON, "rb") as f:
        return b"__asan_init" in f.read()


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
        """With the spool off (spool.dir ""), intake pauses while the database
        is away and nothing is acked; test_spool.py has the spool's side."""
        d = self.daemon('spool.dir=""')
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


    def assert_bounded(self, base, peak):
        """Under 50 MB RSS at the peak of a flood, and no more than 16 MB
        above where it started (a few MB of buffers)."""
        if not sanitized():
            self.assertLess(peak, 50 * 1024, f"peak RSS {peak} kB")
        self.assertLess(peak - base, 16 * 1024, f"grew by {peak - base} kB from {base} kB")

    def flood(self, sock, data, seconds, pid):
        """Sends data over and over for that long, as fast as the daemon
        takes it, never reading; the daemon's peak RSS meanwhile, in kB."""
        sock.setblocking(False)
        sent, peak = 0, 0
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                sent += sock.send(data)
            except BlockingIOError:
                time.sleep(0.01)
            peak = max(peak, rss_kb(pid))
        sock.setblocking(True)
        return sent, peak

    def test_ping_flood_behind_a_locked_event_stays_bounded(self):
        """Pongs wait behind an event the store cannot commit: they count
        against the window, so the daemon stops reading, not grows."""
        d = self.daemon()
        lock = subprocess.Popen(["psql", self.pg.conninfo, "-XAtq"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        lock.stdin.write("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
        lock.stdin.flush()
        self.assertEqual(lock.stdout.readline().strip(), "locked")
        c = Client(d.bridge)
        c.send(ev("fl-1", "call.offered", call_id="fl-1"))
        ping = b'{"id":"fp","type":"ping"}\n'
        base = rss_kb(d.proc.pid)
        sent, peak = self.flood(c.sock, ping * 4096, 5, d.proc.pid)
        print("ping flood: %d pings sent in 5 s, RSS %d kB before, peak %d kB"
              % (sent // len(ping), base, peak), file=sys.stderr)
        self.assert_bounded(base, peak)
        d.wait_log("window full", timeout=5)
        lock.stdin.write("COMMIT;\n")
        lock.stdin.close()
        lock.wait(30)
        self.assertEqual(c.recv()["ack"], "fl-1")
        for _ in range(sent // len(ping)):
            self.assertEqual(c.recv(), {"ack": "fp", "pong": True})
        self.assertEqual(c.call(ev("fl-2", "ping"))["ack"], "fl-2")
        c.close()

    def test_console_client_that_never_reads_stays_bounded(self):
        """A console client sending requests without reading the replies
        stops being read once its unread replies pass the cap."""
        d = self.daemon()
        c = Client(d.bridge)
        c.sock.sendall(b"".join(line("cq", i) for i in range(1000)))
        self.assertEqual(len([c.recv() for _ in range(1000)]), 1000)
        c.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(os.path.join(d.dir, "console.sock"))
        sock.settimeout(20)
        # a queue of 1000 open cases: a long reply
        reqs = b'{"cmd":"queue"}\n{"cmd":"help"}\n' * 1000
        base = rss_kb(d.proc.pid)
        sent, peak = self.flood(sock, reqs, 8, d.proc.pid)
        print("console flood: %d bytes of requests taken in 8 s, RSS %d kB before, peak %d kB"
              % (sent, base, peak), file=sys.stderr)
        # without the cap it grows by some 4 MB a second (+31 MB in 8 s)
        self.assert_bounded(base, peak)
        # it still answers, in order, once read
        got = b""
        while got.count(b"\n") < 50:
            got += sock.recv(65536)
        self.assertTrue(got.startswith(b'{"hello":"hotline111-console"'), got[:80])
        sock.close()
        self.assertEqual(d.cli("status").returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
