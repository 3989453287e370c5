"""metrics.listen as hotline111d.conf(5) and hotline111d(8) document it: the
Prometheus text at /metrics (checked by promtool on a real scrape), counters
that move with the events sent, /healthz following PostgreSQL, a hostile
HTTP client that cannot make the daemon grow; and, from hotline111(1), the
exit status of `status` and `tail` reconnecting across a real restart."""
import http.client
import json
import os
import queue
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI, Client, Daemon, Postgres, ev, wait_for  # noqa: E402

PROMTOOL = shutil.which("promtool")
SAMPLE = re.compile(r'^([a-z_0-9]+)(?:\{(.*)\})? (\S+)$')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, method="GET", timeout=10):
    """(status, body) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def samples(text):
    """{(name, ((label, value), ...)): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(text, name, **labels):
    return samples(text).get((name, tuple(sorted(labels.items()))))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.port = free_port()
        # P4's answer deadline in 2 s: an escalation (and a warning) to count
        cls.d = Daemon(cls.pg, sets=[f'metrics.listen="127.0.0.1:{cls.port}"',
                                     "escalation.p4.answer=2"]).start()
        cls.bridge = Client(cls.d.bridge)

    @classmethod
    def tearDownClass(cls):
        cls.bridge.close()
        cls.d.destroy()
        cls.pg.destroy()

    def scrape(self):
        status, text = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        return text

    def test_promtool_passes_on_a_real_scrape(self):
        if PROMTOOL is None:
            self.skipTest("promtool (Debian prometheus) is not installed")
        self.bridge.call(ev("pt-1", "call.offered", call_id="pt-c1"))
        self.bridge.call({"id": "pt-bad", "type": "call.offered"})
        text = self.scrape()
        for family in ("events_total", "nacks_total", "batch_size", "ack_latency_seconds",
                       "database_up", "spool_records", "spool_bytes", "deadlines_pending",
                       "escalations_total", "escalations_unacknowledged",
                       "consoles_connected", "source_connected", "health"):
            if family in ("deadlines_pending", "escalations_unacknowledged"):
                wait_for(lambda: f"hotline111_{family}" in self.scrape(), timeout=15)
                text = self.scrape()
            self.assertIn(f"# TYPE hotline111_{family} ", text)
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        self.assertEqual(samples(text)[("hotline111_database_up", ())], 1)

    def test_counters_move_with_events(self):
        before = self.scrape()

        def moved(name, **labels):
            return (value(self.scrape(), name, **labels) or 0) - (value(before, name, **labels)
                                                                  or 0)
        first = self.bridge.call(ev("cm-1", "call.offered", call_id="cm-c1"))
        self.assertEqual(first["ack"], "cm-1")
        self.assertTrue(self.bridge.call(ev("cm-1", "call.offered", call_id="cm-c1"))["dup"])
        self.bridge.send_raw(b'{"id":"cm-2", "type":\n')
        self.assertEqual(self.bridge.recv()["error"], "bad_json")
        self.assertEqual(self.bridge.call({"id": "cm-3", "type": "call.answered",
                                           "call_id": "cm-c1"})["error"], "missing_field")
        self.assertTrue(self.bridge.call(ev("cm-4", "ping"))["pong"])
        self.assertEqual(moved("hotline111_events_total", type="call.offered", result="acked"), 1)
        self.assertEqual(moved("hotline111_events_total", type="call.offered", result="dup"), 1)
        self.assertEqual(moved("hotline111_events_total", type="invalid", result="nacked"), 2)
        self.assertEqual(moved("hotline111_events_total", type="ping", result="acked"), 1)
        self.assertEqual(moved("hotline111_nacks_total", code="bad_json"), 1)
        self.assertEqual(moved("hotline111_nacks_total", code="missing_field"), 1)
        self.assertEqual(moved("hotline111_nacks_total", code="bad_value"), 0)
        self.assertEqual(moved("hotline111_batch_size_count"), 2)
        self.assertEqual(moved("hotline111_ack_latency_seconds_count"), 2)
        text = self.scrape()
        self.assertGreaterEqual(value(text, "hotline111_bridge_clients"), 1)
        self.assertEqual(value(text, "hotline111_ack_latency_seconds_bucket", le="+Inf"),
                         value(text, "hotline111_ack_latency_seconds_count"))

    def test_escalations_and_deadlines(self):
        before = self.scrape()
        self.bridge.call(ev("es-1", "call.offered", call_id="es-c1"))

        def fired():
            text = self.scrape()
            grew = ((value(text, "hotline111_escalations_total", level="1") or 0)
                    - (value(before, "hotline111_escalations_total", level="1") or 0))
            unacked = value(text, "hotline111_escalations_unacknowledged", level="1")
            return text if grew >= 1 and unacked and unacked >= 1 else None
        text = wait_for(fired, timeout=20, step=0.5)
        self.assertGreaterEqual(value(text, "hotline111_warnings_total"), 1)
        self.assertGreaterEqual(value(text, "hotline111_deadlines_pending"), 1)
        self.assertEqual(value(text, "hotline111_escalations_unacknowledged", level="3"), 0)

    def test_healthz_and_other_paths(self):
        self.assertEqual(get(self.port, "/healthz"), (200, "ok\n"))
        self.assertEqual(get(self.port, "/nope")[0], 404)
        self.assertEqual(get(self.port, "/metrics?x=1")[0], 200)
        status, body = get(self.port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(get(self.port, "/healthz", method="DELETE")[0], 405)

    def raw(self, data, wait=5):
        """What the daemon answers to bytes sent as they are; b"" when it just closes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=wait)
        try:
            s.sendall(data)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return got
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            return b""
        finally:
            s.close()

    def test_hostile_clients_do_not_grow_the_daemon(self):
        pid = self.d.proc.pid
        self.scrape()
        rss0, fds0 = rss_kb(pid), nfds(pid)
        # a header past the limit, a body where none belongs, garbage
        huge = self.raw(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
        self.assertNotIn(b"200 OK", huge)
        body = self.raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n"
                        + b"x" * 65536)
        self.assertNotIn(b"200 OK", body)
        self.assertNotIn(b"200 OK", self.raw(b"\x00\xff" * 5000 + b"\r\n\r\n"))
        # slowloris: a byte at a time keeps no slot past the connection's 10 s
        slow = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        slow.sendall(b"GET /metrics HTTP/1.1\r\n")
        started, closed = time.time(), False
        while time.time() - started < 20:
            try:
                slow.sendall(b"X")
                slow.settimeout(1)
                if slow.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        slow.close()
        self.assertTrue(closed, "a trickling client was never cut off")
        self.assertLess(time.time() - started, 15)
        # a thousand connections at once, held open
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        held = []
        try:
            for _ in range(1000):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.port))
                held.append(s)
            time.sleep(1)
            self.assertLess(nfds(pid), fds0 + 64 + 8, "connections past the cap were taken")
            # the daemon still takes events and has fds for them
            self.assertEqual(self.bridge.call(ev("ho-1", "ping"))["ack"], "ho-1")
            other = Client(self.d.bridge)
            self.assertEqual(other.call(ev("ho-2", "ping"))["ack"], "ho-2")
            other.close()
            held_rss, held_fds = rss_kb(pid), nfds(pid)
            print("metrics: 1000 connections held: daemon RSS %d kB (before %d kB), %d fds "
                  "(before %d)" % (held_rss, rss0, held_fds, fds0), file=sys.stderr)
            self.assertLess(held_rss - rss0, 20 * 1024, "RSS grew by more than 20 MB")
        finally:
            for s in held:
                s.close()
        # once they are gone, scrapes get in again
        wait_for(lambda: get(self.port, "/metrics", timeout=2)[0] == 200, timeout=30)
        wait_for(lambda: nfds(pid) <= fds0 + 2, timeout=15)
        self.assertLess(rss_kb(pid) - rss0, 20 * 1024)


class Listen(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def test_a_listen_that_fails_stops_the_start(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        d = Daemon(self.pg, sets=[f'metrics.listen="127.0.0.1:{busy.getsockname()[1]}"'])
        try:
            d.start(wait=False)
            self.assertEqual(d.proc.wait(timeout=30), 1)
            self.assertIn("metrics.listen: tcp:127.0.0.1:%d: Address already in use"
                          % busy.getsockname()[1], d.log_text())
        finally:
            busy.close()
            d.destroy()

    def test_empty_listen_is_off(self):
        d = Daemon(self.pg).start()
        try:
            self.assertIn("metrics: off (metrics.listen is empty)", d.log_text())
            self.assertNotIn("metrics: listening", d.log_text())
        finally:
            d.destroy()


class Health(unittest.TestCase):
    """/healthz, the health gauge and `hotline111 status` as PostgreSQL goes and
    comes back: failing (503, exit 5) when nothing keeps events, degraded
    (200, exit 4) while the spool does."""

    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.port = free_port()

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=[f'metrics.listen="127.0.0.1:{self.port}"', *sets]).start()
        self.addCleanup(d.destroy)
        return d

    def health(self):
        return get(self.port, "/healthz", timeout=5)

    def test_no_spool_database_down_is_failing(self):
        d = self.daemon('spool.dir=""')
        # "ready" comes before the store's own connection: failing until then
        wait_for(lambda: self.health() == (200, "ok\n"), timeout=30)
        r = d.cli("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("health                  ok", r.stdout)
        self.pg.stop()
        try:
            status, body = wait_for(lambda: (lambda h: h if h[0] == 503 else None)(
                self.health()), timeout=30)
            self.assertTrue(body.startswith("failing\n"), body)
            self.assertIn("failing: intake paused: the database is unreachable and "
                          "spool.dir is off", body)
            text = get(self.port, "/metrics")[1]
            self.assertEqual(value(text, "hotline111_database_up"), 0)
            self.assertEqual(value(text, "hotline111_intake_paused"), 1)
            self.assertEqual(value(text, "hotline111_health", state="failing"), 1)
            self.assertIsNone(value(text, "hotline111_deadlines_pending"),
                              "figures the database cannot give are not made up")
            r = d.cli("status")
            self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
            self.assertIn("hotline111: failing: intake paused", r.stderr)
            r = d.cli("--json", "status")
            self.assertEqual(r.returncode, 5)
            self.assertEqual(json.loads(r.stdout)["health"]["state"], "failing")
        finally:
            self.pg.start()
        wait_for(lambda: self.health() == (200, "ok\n"), timeout=60, step=0.2)
        self.assertEqual(d.cli("status").returncode, 0)

    def test_spool_keeps_events_so_database_down_is_degraded(self):
        d = self.daemon()
        wait_for(lambda: self.health() == (200, "ok\n"), timeout=30)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.pg.stop()
        try:
            status, body = wait_for(lambda: (lambda h: h if "degraded" in h[1] else None)(
                self.health()), timeout=30)
            self.assertEqual(status, 200)
            self.assertIn("degraded: database unreachable: events go to the local spool", body)
            self.assertTrue(wait_for(lambda: c.call(ev("sp-1", "call.offered",
                                                       call_id="sp-c1")).get("spooled")))
            text = get(self.port, "/metrics")[1]
            self.assertEqual(value(text, "hotline111_spool_records"), 1)
            self.assertGreater(value(text, "hotline111_spool_bytes"), 0)
            self.assertEqual(value(text, "hotline111_events_total", type="call.offered",
                                   result="spooled"), 1)
            self.assertEqual(value(text, "hotline111_health", state="degraded"), 1)
            r = d.cli("status")
            self.assertEqual(r.returncode, 4, r.stdout + r.stderr)
            self.assertIn("hotline111: degraded: spool: 1 events waiting to be replayed",
                          r.stderr)
        finally:
            self.pg.start()
        wait_for(lambda: self.health() == (200, "ok\n"), timeout=60, step=0.2)
        self.assertEqual(value(get(self.port, "/metrics")[1], "hotline111_spool_records"), 0)
        self.assertEqual(d.cli("status").returncode, 0)

    def test_a_source_down_is_degraded(self):
        d = self.daemon(f'sources=({{ type = "evapi"; connect = "tcp:127.0.0.1:{free_port()}"; '
                        f'name = "kam"; }})')
        status, body = wait_for(lambda: (lambda h: h if "source" in h[1] and h[0] == 200
                                         else None)(self.health()), timeout=30)
        self.assertRegex(body, r"degraded: source evapi:kam: (down|connecting)")
        text = get(self.port, "/metrics")[1]
        self.assertEqual(value(text, "hotline111_source_connected", source="evapi:kam",
                               type="evapi"), 0)
        self.assertEqual(d.cli("status").returncode, 4)


class Lines:
    """A pipe's lines, read by a thread, each waited for with a deadline."""

    def __init__(self, pipe):
        self.q = queue.Queue()
        threading.Thread(target=lambda: [self.q.put(x) for x in pipe], daemon=True).start()

    def next(self, timeout=30):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no line in %ss" % timeout)


class TailReconnects(unittest.TestCase):
    def test_tail_reconnects_after_a_restart(self):
        pg = Postgres()
        self.addCleanup(pg.destroy)
        d = Daemon(pg).start()
        self.addCleanup(d.destroy)
        tail = subprocess.Popen([CLI, "-S", os.path.join(d.dir, "console.sock"), "--json",
                                 "tail"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.addCleanup(lambda: (tail.kill(), tail.wait(), tail.stdout.close(),
                                 tail.stderr.close()))
        out, err = Lines(tail.stdout), Lines(tail.stderr)
        self.assertEqual(json.loads(out.next()), {"tailing": True})
        self.assertIn("tailing", err.next())
        self.assertEqual(d.stop(), 0)
        self.assertEqual(err.next().strip(),
                         "hotline111: the daemon closed the connection; reconnecting to "
                         + os.path.join(d.dir, "console.sock"))
        time.sleep(1)
        self.assertIsNone(tail.poll(), "tail ended with its daemon")
        d.start()
        self.assertRegex(err.next(),
                         r"^hotline111: reconnected to .* after \d+ attempts; alerts sent "
                         r"while disconnected are in the escalation log")
        # alerts flow again on the new connection
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("tr-1", "ticket.created", ticket_id="tr-t1", text="hỏi thông tin"))
        line = json.loads(out.next())
        self.assertEqual((line["alert"], line["case"]["case"]), ("case", case["case"]))


if __name__ == "__main__":
    unittest.main()
