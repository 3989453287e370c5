"""Integration harness: a private PostgreSQL (scripts/pg-sandbox), the real
hotline111d built in the build tree, and bridge clients over real sockets.
No mock of anything."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

TOP = os.environ.get("H111_TOP_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("H111_TOP_BUILDDIR") or os.path.join(TOP, "build")
DAEMON = os.path.join(BUILD, "src", "hotline111d")
CLI = os.path.join(BUILD, "src", "hotline111")
RULES = os.environ.get("H111_RULES") or os.path.join(TOP, "conf", "rules.conf")


# A caller number as the suite sends them (+84912345678, 0356781234): eight
# digits or more in a row. The daemon masks every such run in its log
# lines, so none may be found whole in any daemon log of the suite.
WHOLE_NUMBER = re.compile(rb"(?<![0-9])\+?[0-9]{8,}")


def whole_numbers(path):
    """The whole caller numbers in a daemon log: there must be none. Lines
    of a tool the daemon runs under (valgrind's ==PID==, which repeat its
    command line) are not the daemon's."""
    try:
        with open(path, "rb") as f:
            lines = [ln for ln in f if not ln.startswith(b"==")]
    except FileNotFoundError:
        return []
    return [n for ln in lines for n in WHOLE_NUMBER.findall(ln)]


class Postgres:
    """A private cluster in a temporary directory, Unix socket only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="h111pg-")
        self.start()

    def _sandbox(self, cmd):
        out = subprocess.run([os.path.join(TOP, "scripts", "pg-sandbox"), cmd, self.dir],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def start(self):
        self.conninfo = self._sandbox("start")

    def stop(self):
        self._sandbox("stop")

    def query(self, sql, *params):
        """Rows of a query, each a list of strings (psql -At, | separated)."""
        args = ["psql", self.conninfo, "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f"]
        for i, p in enumerate(params):
            args += ["-v", f"p{i + 1}={p}"]
        out = subprocess.run(args, input=sql, check=True, capture_output=True, text=True)
        return [line.split("\x1f") for line in out.stdout.splitlines()]

    def scalar(self, sql, *params):
        return self.query(sql, *params)[0][0]

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """hotline111d with a config of its own; stderr goes to a log file."""

    def __init__(self, pg, sets=()):
        self.pg = pg
        self.dir = tempfile.mkdtemp(prefix="h111d-")
        self.bridge = os.path.join(self.dir, "bridge.sock")
        self.conf = os.path.join(self.dir, "hotline111d.conf")
        self.log = os.path.join(self.dir, "daemon.log")
        self.proc = None
        self.sets = list(sets)
        with open(self.conf, "w") as f:
            f.write(f"""
log: {{ level = "debug"; escalation_log = "{self.dir}/escalations.log"; }};
database: {{ conninfo = "{pg.conninfo}"; }};
bridge: {{ listen = [ "unix:{self.bridge}" ]; }};
console: {{ listen = [ "unix:{self.dir}/console.sock" ]; }};
spool: {{ dir = "{self.dir}/spool"; }};
triage: {{ rules = "{RULES}"; }};
metrics: {{ listen = ""; }};
""")

    def check_config(self, *sets, timeout=30):
        """`hotline111d --check-config` on this config, with its -s settings
        and then sets: what the daemon refuses before it starts, without
        starting it. The CompletedProcess, for its returncode and stderr."""
        args = [a for s in [*self.sets, *sets] for a in ("-s", s)]
        return subprocess.run([DAEMON, "-c", self.conf, *args, "--check-config"],
                              capture_output=True, text=True, timeout=timeout)

    def cli(self, *args, timeout=20):
        """The hotline111 client on this daemon's console socket, as an
        operator runs it. The CompletedProcess."""
        return subprocess.run([CLI, "-S", os.path.join(self.dir, "console.sock"), *args],
                              capture_output=True, text=True, timeout=timeout)

    def status(self):
        """`hotline111 --json status`, parsed: what the daemon says of itself
        (its sources' states and counts) through the console, as a monitor
        sees it. A failing client is an assertion with its stderr; exit 4
        (degraded) and 5 (failing) are answers, not failures (hotline111(1))."""
        out = self.cli("--json", "status")
        if out.returncode not in (0, 4, 5):
            raise AssertionError(f"hotline111 status exited {out.returncode}:\n{out.stderr}")
        return json.loads(out.stdout)

    def start_under(self, wrapper):
        """Starts it under a tool such as valgrind, which may take a while."""
        return self.start(wrapper=wrapper, timeout=120)

    def start(self, *args, wait=True, wrapper=(), timeout=30):
        readies = self.log_text().count(" ready: ") if os.path.exists(self.log) else 0
        self.logf = open(self.log, "a")
        sets = [a for s in self.sets for a in ("-s", s)]
        self.proc = subprocess.Popen([*wrapper, DAEMON, "-c", self.conf, *sets, *args],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        if wait:
            self.wait_log(" ready: ", timeout=timeout, count=readies + 1)
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout=15, count=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log_text().count(needle) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.02)
        raise AssertionError(f"no '{needle}' in the daemon log after {timeout}s:\n"
                             + self.log_text()[-3000:])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        rc = self.proc.returncode if self.proc else 0
        if self.proc:
            self.logf.close()
        self.proc = None
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.logf.close()
        self.proc = None

    def destroy(self):
        """Kills it if need be and removes its files, after checking that its
        log holds no whole caller number (hotline111d(8), LOGGING)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None
        found = whole_numbers(self.log)
        text = self.log_text()[-3000:] if found else ""
        shutil.rmtree(self.dir, ignore_errors=True)
        if found:
            raise AssertionError("whole caller numbers in the daemon log: %r\n%s"
                                 % (sorted(set(found))[:10], text))


class Client:
    """A bridge client: reads the daemon's hello, sends lines, reads replies."""

    def __init__(self, path, hello=True, timeout=20):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        if hello:
            self.greeting = self.recv()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj, ensure_ascii=False).encode() + b"\n")

    def recv_line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the daemon")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self):
        return json.loads(self.recv_line())

    def call(self, obj):
        self.send(obj)
        return self.recv()

    def closed(self):
        """True when the daemon has closed the connection (after any replies)."""
        try:
            while True:
                self.recv_line()
        except EOFError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class FakeServer(threading.Thread):
    """A PBX's listening end (AMI, the event socket, evapi) on a loopback
    port of its own, for a source of the daemon's to connect to: one session
    at a time, each counted, in session(conn), which a subclass writes. The
    daemon may drop a session at any point, so an OSError in one only ends
    that session; the next connection is served as usual."""

    def __init__(self):
        super().__init__(daemon=True)
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.sessions = 0
        self.stop = False

    def serve(self, test):
        """Starts it, closed when test is cleaned up, so that no test leaves
        a listener behind. Returns it."""
        self.start()
        test.addCleanup(self.close)
        return self

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            self.sessions += 1
            try:
                self.session(conn)
            except OSError:
                pass
            conn.close()

    def session(self, conn):
        raise NotImplementedError

    def close(self):
        self.stop = True
        self.srv.close()


def ev(id, type, **fields):
    return {"id": id, "type": type, **fields}


_sent = [0]


def send_event(bridge, prefix, type, **fields):
    """One bridge event on a connection of its own, with an id no other
    test process uses (PREFIX-PID-N); its ack, which must be one."""
    _sent[0] += 1
    c = Client(bridge)
    try:
        r = c.call(ev("%s-%d-%d" % (prefix, os.getpid(), _sent[0]), type, **fields))
    finally:
        c.close()
    assert "ack" in r, r
    return r


def system_user(name):
    """The uid of a system user the console tests run as (another operator,
    through SO_PEERCRED), made when missing: the tests that need one run as
    root."""
    import pwd
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True,
                       capture_output=True)
        return pwd.getpwnam(name).pw_uid


def wait_for(cond, timeout=20, step=0.05):
    """Polls cond() until it returns something true, which it returns."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in %ss" % timeout)


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port free now. The kernel picks it, so parallel runs do
    not collide; the small window before the user binds it is accepted."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class EventsLock:
    """A transaction holding the events table, so that the store cannot
    finish storing anything until it is released."""

    def __init__(self, pg):
        self.p = subprocess.Popen(["psql", pg.conninfo, "-XAtq"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; "
                           "SELECT 'locked';\n")
        self.p.stdin.flush()
        if self.p.stdout.readline().strip() != "locked":
            self.release()
            raise AssertionError("could not lock the events table")

    def release(self):
        if self.p is None:
            return
        self.p.stdin.write("COMMIT;\n")
        self.p.stdin.close()
        self.p.wait(timeout=20)
        self.p.stdout.close()
        self.p = None


def assert_clean(d):
    """Nothing from the sanitizers (a build with -fsanitize) in the daemon's log."""
    text = d.log_text()
    for needle in ("Sanitizer", "runtime error:"):
        if needle in text:
            raise AssertionError(f"{needle} in the daemon log:\n" + text[-5000:])


class DaemonTest(unittest.TestCase):
    """One private PostgreSQL and one daemon for a whole class; every test
    uses ids of its own. The daemon's settings come from daemon_sets()
    (default: the class's `sets`); it must exit 0 and cleanly at the end."""
    sets = ()

    @classmethod
    def daemon_sets(cls):
        return list(cls.sets)

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.d = Daemon(cls.pg, sets=cls.daemon_sets())
        try:
            cls.d.start()
            # until the store is connected the webhook answers 503
            cls.d.wait_log("database: connected")
        except Exception:
            cls.d.destroy()
            cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.d.stop()
            assert_clean(cls.d)
        finally:
            cls.d.destroy()
            cls.pg.destroy()
        if rc != 0:
            raise AssertionError(f"daemon exited {rc}")

    def client(self):
        c = Client(self.d.bridge)
        self.addCleanup(c.close)
        return c


def rules_only(dirpath):
    """A copy of the shipped rules without their models (hotline111-rules(5),
    THE MODEL, URGENCY), in dirpath: for tests of what the rules alone decide, which
    a retrained model must not move. Its path."""
    path = os.path.join(dirpath, "rules-only.conf")
    with open(RULES, encoding="utf-8") as f:
        text = re.sub(r"(?ms)^(model|urgency) = \{.*?\};\n", "", f.read())
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def http_request(port, method, path, body=None, headers=None, timeout=20):
    """One HTTP request to a loopback listener (the CTI webhook, metrics):
    the status and the body's bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()
