"""Integration harness: a private PostgreSQL (scripts/pg-sandbox), the real
hotline111d built in the build tree, and bridge clients over real sockets.
No mock of anything."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.environ.get("H111_TOP_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("H111_TOP_BUILDDIR") or os.path.join(TOP, "build")
DAEMON = os.path.join(BUILD, "src", "hotline111d")
RULES = os.environ.get("H111_RULES") or os.path.join(TOP, "conf", "rules.conf")


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
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


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


def ev(id, type, **fields):
    return {"id": id, "type": type, **fields}


def wait_for(cond, timeout=20, step=0.05):
    """Polls cond() until it returns something true, which it returns."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in %ss" % timeout)
