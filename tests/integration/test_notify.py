"""Notifications of escalations (escalation.notify, hotline111d.conf(5))
against a real PostgreSQL and the real daemon: a webhook's POST and a
command's standard input carry the escalation log's line (caller masked);
a receiver that is down is tried again until it is up; a daemon killed -9
leaves its pending notifications to the next start; two daemons on one
database send each notification once; a command that hangs is killed at
its timeout with its children; one that never gets through is failed and
logged at error. show, status and the metrics tell their state."""
import http.server
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, free_port, http_request, wait_for  # noqa: E402

# P4: the answer deadline after 2 s, the claim deadline after 3 s; levels
# every second after. Only level 1 notifies, so each case gives a few.
FAST = ["escalation.warn=0", "escalation.repeat=1", "escalation.notify_retry=1",
        "escalation.notify_retry_max=1",
        "escalation.p4={ answer = 2; claim = 3; act = 600; }"]


class Receiver:
    """A local HTTP server that records every POST (path, headers, body) and
    answers `code`; start() and stop() may be called more than once on the
    same port (a receiver that is down, then up)."""

    def __init__(self, port=None, code=200):
        self.port = port or free_port()
        self.code = code
        self.got = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.got.append((self.path, dict(self.headers), body))
                self.send_response(outer.code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.got]


class Notify(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.tmp = tempfile.mkdtemp(prefix="h111-notify-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])

    def daemon(self, channels, *sets, start=True):
        d = Daemon(self.pg, sets=FAST + ["escalation.notify=( %s )" % ", ".join(channels)]
                   + list(sets))
        self.addCleanup(d.destroy)
        return d.start() if start else d

    def hook(self, port, name="hook", level=1, timeout=2, extra=""):
        return ('{ name = "%s"; level = %d; url = "http://127.0.0.1:%d/h111?x=1"; '
                'timeout = %d; %s }' % (name, level, port, timeout, extra))

    def script(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + text)
        os.chmod(path, 0o755)
        return path

    def outbox(self, where="true"):
        return self.pg.query("SELECT id, escalation_id, channel, state, attempts, "
                             "coalesce(last_error, '') FROM outbox WHERE %s ORDER BY id" % where)

    def level1(self, case):
        return sorted(int(r[0]) for r in self.pg.query(
            "SELECT id FROM escalations WHERE case_id = %d AND level = 1 "
            "AND kind = 'escalation'" % case))

    def lines(self, path):
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.readlines()

    def log_lines(self, d):
        with open(os.path.join(d.dir, "escalations.log")) as f:
            return {json.loads(line)["escalation"]: json.loads(line) for line in f}

    def test_webhook_and_command_get_the_log_line(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret-Token\n")
        os.chmod(token, 0o600)
        out = os.path.join(self.tmp, "stdin.jsonl")
        cmd = self.script("alert.sh", 'cat >> "$1"\n')
        d = self.daemon([self.hook(rx.port, extra='token_file = "%s";' % token),
                         '{ name = "script"; level = 1; command = [ "%s", "%s" ]; }'
                         % (cmd, out)])
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("n-1", "call.offered", call_id="n-c1", caller="+84912345678"))["case"]
        esc = wait_for(lambda: len(self.level1(case)) == 2 and self.level1(case), timeout=20)
        wait_for(lambda: len(rx.got) == 2 and len(self.lines(out)) == 2, timeout=20)
        logged = self.log_lines(d)
        for body in rx.bodies():
            self.assertEqual(body, logged[body["escalation"]])
            self.assertEqual(body["caller"], "+849******78")
        self.assertEqual(sorted(b["escalation"] for b in rx.bodies()), esc)
        path, headers, raw = rx.got[0]
        self.assertEqual(path, "/h111?x=1")
        self.assertEqual(headers["Authorization"], "Bearer s3cret-Token")
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertNotIn(b"912345", raw)
        with open(out) as f:
            piped = [json.loads(line) for line in f]
        self.assertEqual(sorted(p["escalation"] for p in piped), esc)
        for p in piped:
            self.assertEqual(p, logged[p["escalation"]])
        wait_for(lambda: all(r[3] == "sent" for r in self.outbox()) and len(self.outbox()) == 4)
        shown = d.cli("show", str(case))
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("notifications (4)", shown.stdout)
        self.assertRegex(shown.stdout, r"#\d+  escalation #%d  hook  sent  attempts 1" % esc[0])
        self.assertRegex(shown.stdout, r"escalation #%d  script  sent" % esc[1])
        st = d.status()
        self.assertEqual(st["notifications"], {"pending": 0, "failed": 0})
        self.assertRegex(d.cli("status").stdout, r"notifications pending\s+0")
        self.assertIn("sent to hook", d.log_text())
        self.assertNotIn("s3cret", d.log_text())

    def test_receiver_down_is_retried_until_it_is_up(self):
        rx = Receiver(code=503).start()
        self.addCleanup(rx.stop)
        port = free_port()
        d = self.daemon([self.hook(rx.port)], 'metrics.listen="127.0.0.1:%d"' % port)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("r-1", "call.offered", call_id="r-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]
        wait_for(lambda: len([b for b in rx.bodies() if b["escalation"] == first]) >= 2)
        row = self.outbox("escalation_id = %d" % first)[0]
        self.assertEqual(row[3], "pending")
        self.assertEqual(row[5], "HTTP 503")
        self.assertIn("HTTP 503; try", d.log_text())
        rx.code = 200
        wait_for(lambda: self.outbox("escalation_id = %d" % first)[0][3] == "sent")
        tries = len([b for b in rx.bodies() if b["escalation"] == first])
        time.sleep(2.5)
        self.assertEqual(len([b for b in rx.bodies() if b["escalation"] == first]), tries,
                         "a sent notification is not sent again")
        status, body = http_request(port, "GET", "/metrics")
        text = body.decode()
        self.assertEqual(status, 200)
        self.assertRegex(text, r'hotline111_notifications_total\{result="retry"\} [1-9]')
        self.assertRegex(text, r'hotline111_notifications_total\{result="sent"\} [1-9]')
        self.assertIn("hotline111_notifications_pending ", text)

    def test_pending_notification_is_sent_after_kill9(self):
        rx = Receiver()
        d = self.daemon([self.hook(rx.port)])
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("k-1", "call.offered", call_id="k-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]
        wait_for(lambda: self.outbox("escalation_id = %d AND attempts >= 1" % first))
        d.kill9()
        self.assertEqual(self.outbox("escalation_id = %d" % first)[0][3], "pending")
        rx.start()
        self.addCleanup(rx.stop)
        d.start()
        wait_for(lambda: self.outbox("escalation_id = %d" % first)[0][3] == "sent", timeout=20)
        self.assertEqual([b["escalation"] for b in rx.bodies()].count(first), 1)

    def test_two_daemons_send_each_notification_once(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        ch = [self.hook(rx.port)]
        d1 = self.daemon(ch)
        d2 = self.daemon(ch)
        cases = []
        for i, d in enumerate([d1, d2] * 5):
            c = Client(d.bridge)
            cases.append(c.call(ev("t-%d" % i, "call.offered", call_id="t-c%d" % i))["case"])
            c.close()
        want = wait_for(lambda: (lambda e: len(e) == 20 and e)(
            [x for case in cases for x in self.level1(case)]), timeout=30)
        wait_for(lambda: len(rx.got) >= 20, timeout=30)
        time.sleep(1.5)
        got = [b["escalation"] for b in rx.bodies()]
        self.assertEqual(sorted(got), sorted(want), "each once")
        # Once in all, whichever daemon claimed it: which one is a race
        # (one may claim every row before the other polls), not a promise.
        sent = [d.log_text().count("sent to hook") for d in (d1, d2)]
        self.assertEqual(sum(sent), 20)

    def test_reload_rereads_the_token_and_fails_a_removed_channel(self):
        rx = Receiver(code=503).start()
        self.addCleanup(rx.stop)
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("one")
        os.chmod(token, 0o600)
        d = self.daemon([], start=False)
        d.sets = list(FAST)
        with open(d.conf) as f:
            base = f.read()
        with open(d.conf, "w") as f:
            f.write(base + 'escalation: { notify = ( %s ); };\n'
                    % self.hook(rx.port, extra='token_file = "%s";' % token))
        d.start()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("z-1", "call.offered", call_id="z-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]

        def auths():
            with rx.lock:
                return [h.get("Authorization") for _, h, _ in rx.got]
        wait_for(lambda: "Bearer one" in auths())
        with open(token, "w") as f:
            f.write("two\n")
        d.signal(signal.SIGHUP)
        d.wait_log("reload: configuration and rules reloaded")
        wait_for(lambda: "Bearer two" in auths())
        with open(d.conf, "w") as f:
            f.write(base)
        d.signal(signal.SIGHUP)
        d.wait_log("reload: configuration and rules reloaded", count=2)
        row = wait_for(lambda: (lambda r: r[0][3] == "failed" and r)(
            self.outbox("escalation_id = %d" % first)), timeout=10)
        self.assertEqual(row[0][5], "no such channel in escalation.notify any more")

    def test_hanging_command_is_killed_at_its_timeout(self):
        pids = os.path.join(self.tmp, "pids")
        cmd = self.script("hang.sh", 'sleep 60 &\necho "$$ $!" > "$1"\nwait\n')
        d = self.daemon(['{ name = "hang"; level = 1; timeout = 1; command = [ "%s", "%s" ]; }'
                         % (cmd, pids)], "escalation.notify_give_up=2")
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("h-1", "call.offered", call_id="h-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]
        row = wait_for(lambda: (lambda r: r and int(r[0][4]) >= 1 and r[0][5] and r)(
            self.outbox("escalation_id = %d" % first)), timeout=10)
        self.assertEqual(row[0][5], "timed out after 1 s")
        shell, sleeper = (int(x) for x in self.lines(pids)[0].split())
        for pid in (shell, sleeper):
            wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=5)
        wait_for(lambda: self.outbox("escalation_id = %d" % first)[0][3] == "failed",
                 timeout=15)
        self.assertRegex(d.log_text(), r"error: notification \d+ \(escalation %d, case %d\): "
                                       r"hang: timed out after 1 s; given up" % (first, case))
        self.assertGreaterEqual(d.status()["notifications"]["failed"], 1)

    def test_hanging_receiver_times_out_and_the_loop_goes_on(self):
        """A receiver that accepts and never answers: the try ends at its
        timeout, and meanwhile the bridge answers at once."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        self.addCleanup(srv.close)
        held = []
        stop = threading.Event()

        def accept():
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(srv.accept()[0])
                except OSError:
                    pass
        t = threading.Thread(target=accept, daemon=True)
        t.start()
        self.addCleanup(lambda: (stop.set(), t.join(), [h.close() for h in held]))
        d = self.daemon([self.hook(srv.getsockname()[1], timeout=3)])
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("w-1", "call.offered", call_id="w-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]
        wait_for(lambda: held)
        t0 = time.time()
        self.assertEqual(c.call(ev("w-2", "ping")), {"ack": "w-2", "pong": True})
        self.assertLess(time.time() - t0, 1.0, "the bridge waited for the webhook")
        row = wait_for(lambda: (lambda r: r and r[0][5] and r)(
            self.outbox("escalation_id = %d" % first)), timeout=10)
        self.assertEqual(row[0][5], "timed out after 3 s")
        self.assertEqual(row[0][3], "pending")

    def test_failing_command_and_unknown_program(self):
        cmd = self.script("fail.sh", "cat >/dev/null; exit 3\n")
        d = self.daemon(['{ name = "fail"; level = 1; command = [ "%s" ]; }' % cmd,
                         '{ name = "gone"; level = 1; command = [ "%s/nope" ]; }' % self.tmp],
                        "escalation.notify_give_up=1")
        c = Client(d.bridge)
        self.addCleanup(c.close)
        case = c.call(ev("f-1", "call.offered", call_id="f-c1"))["case"]
        first = wait_for(lambda: self.level1(case), timeout=20)[0]
        rows = wait_for(lambda: (lambda r: len(r) == 2 and all(x[3] == "failed" for x in r)
                                 and r)(self.outbox("escalation_id = %d" % first)), timeout=15)
        errors = {r[2]: r[5] for r in rows}
        self.assertEqual(errors["fail"], "exited with status 3")
        self.assertRegex(errors["gone"], r"^cannot run .*/nope: No such file")

    def test_check_config_names_the_line(self):
        d = self.daemon([], start=False)
        token = os.path.join(self.tmp, "open-token")
        with open(token, "w") as f:
            f.write("x\n")
        os.chmod(token, 0o644)
        with open(d.conf, "a") as f:
            f.write('escalation: { notify = (\n  { name = "a"; level = 1;\n'
                    '    url = "http://127.0.0.1:1/x"; token_file = "%s"; } ); };\n' % token)
        d.sets = []
        r = d.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"hotline111d\.conf:\d+: escalation\.notify: token_file .*"
                                   r"readable by every user")
        os.chmod(token, 0o640)
        r = d.check_config()
        self.assertEqual(r.returncode, 0, r.stderr)
        r = d.check_config('escalation.notify=( { name = "b"; level = 1; '
                           'command = [ "%s/missing.sh" ]; } )' % self.tmp)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"escalation\.notify: b: .*/missing\.sh: No such file")
        r = d.check_config('escalation.notify=( { name = "b"; level = 9; '
                           'command = [ "/bin/true" ]; } )')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("level 9, but escalation.levels has 3", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
