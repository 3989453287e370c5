"""PostgreSQL failover: a primary and a streaming standby (pg_basebackup,
synchronous_standby_names set), the daemon given both in one conninfo with
target_session_attrs=read-write. The primary dies (immediate stop) in the
middle of a stream of bridge events whose answer deadlines fire meanwhile;
the standby is promoted. Intake resumes on the new primary, every acked
event is there, and no deadline escalated twice."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Client, Daemon, Postgres, ev, wait_for  # noqa: E402


def pg_bin(name):
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2].split(".")[0]))
    return os.path.join(dirs[-1], name)


def as_owner(args):
    return ["runuser", "-u", "postgres", "--", *args] if os.getuid() == 0 else list(args)


def run(args, timeout=120):
    return subprocess.run(as_owner(args), check=True, capture_output=True, text=True,
                          timeout=timeout)


def psql(conninfo, sql):
    out = subprocess.run(["psql", conninfo, "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "|"],
                         input=sql, check=True, capture_output=True, text=True, timeout=60)
    return [ln.split("|") for ln in out.stdout.splitlines()]


class Standby:
    """A streaming replica of a harness Postgres, on a socket of its own."""

    def __init__(self, primary):
        self.dir = tempfile.mkdtemp(prefix="h111sb-")
        self.data = os.path.join(self.dir, "data")
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        run([pg_bin("pg_basebackup"), "-h", primary.dir, "-U", "hotline111", "-D", self.data,
             "-R", "-X", "stream", "-c", "fast", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nunix_socket_directories = '{self.dir}'\nhot_standby = on\n")
        self.conninfo = f"host={self.dir} user=hotline111 dbname=hotline111"
        self.start()

    def start(self):
        run([pg_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
             "-w", "-t", "60", "start"])

    def promote(self):
        run([pg_bin("pg_ctl"), "-D", self.data, "-w", "-t", "60", "promote"])

    def destroy(self):
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                run([pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def crash(pg):
    """The primary dies: an immediate stop, no checkpoint, connections cut."""
    run([pg_bin("pg_ctl"), "-D", os.path.join(pg.dir, "data"), "-m", "immediate", "-w", "stop"])


class Sender(threading.Thread):
    """Sends call.offered events one at a time, each once its previous one
    is acked, until told to stop; keeps every reply."""

    def __init__(self, client, prefix):
        super().__init__(daemon=True)
        self.c, self.prefix = client, prefix
        self.replies, self.sent, self.error = [], 0, None
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                eid = "%s-%d" % (self.prefix, self.sent)
                self.c.send(ev(eid, "call.offered", call_id=eid))
                self.sent += 1
                self.replies.append(self.c.recv())
                time.sleep(0.01)
        except Exception as e:  # noqa: BLE001: the test reports it
            self.error = e


class Failover(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.sb = Standby(self.pg)
        self.addCleanup(self.sb.destroy)
        wait_for(lambda: self.pg.query("SELECT 1 FROM pg_stat_replication "
                                       "WHERE state = 'streaming'"), timeout=60)
        self.pg.query("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.pg.query("SELECT pg_reload_conf()")
        wait_for(lambda: self.pg.query("SELECT 1 FROM pg_stat_replication "
                                       "WHERE sync_state = 'sync'"), timeout=30)

    def escalations_twice(self, conninfo):
        return psql(conninfo, "SELECT case_id, deadline, kind, level, count(*) FROM escalations "
                              "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1")

    def test_promoted_standby_takes_over(self):
        both = (f"host={self.pg.dir},{self.sb.dir} user=hotline111 dbname=hotline111 "
                "target_session_attrs=read-write")
        d = Daemon(self.pg, sets=[f'database.conninfo="{both}"', "escalation.warn=0",
                                  "escalation.repeat=600",
                                  "escalation.p4={ answer = 2; claim = 600; act = 600; }"])
        self.addCleanup(d.destroy)
        d.start()
        d.wait_log("database: connected")
        c = Client(d.bridge)
        self.addCleanup(c.close)
        s = Sender(c, "fo")
        s.start()
        wait_for(lambda: len(s.replies) >= 100 or s.error, timeout=60)
        # some answer deadlines have fired on the old primary
        wait_for(lambda: int(self.pg.scalar("SELECT count(*) FROM escalations")) > 5,
                 timeout=30)
        crash(self.pg)
        d.wait_log("events go to the local spool", timeout=20)
        time.sleep(1)
        self.sb.promote()
        d.wait_log("database: connected again", timeout=60)
        wait_for(lambda: d.status()["database"] == "up", timeout=30)
        d.wait_log("spool: replay done", timeout=60)
        # intake resumes on the new primary: fresh events get their case
        n_before = len(s.replies)
        wait_for(lambda: len(s.replies) >= n_before + 50 and "case" in s.replies[-1]
                 and s.replies[-1]["case"] is not None or s.error, timeout=60)
        # deadlines of events stored after the failover fire on the new primary
        time.sleep(4)
        s.halt.set()
        s.join(30)
        self.assertIsNone(s.error)
        acked = [r["ack"] for r in s.replies if "ack" in r]
        self.assertEqual(acked, ["fo-%d" % i for i in range(len(s.replies))])
        spooled = [r["ack"] for r in s.replies if r.get("spooled")]
        stored = {r[0] for r in psql(self.sb.conninfo,
                                     "SELECT event_id FROM events WHERE event_id LIKE 'fo-%'")}
        self.assertEqual(stored, set(acked), "an acked event is missing on the new primary")
        self.assertEqual(int(psql(self.sb.conninfo, "SELECT count(*) FROM cases WHERE "
                                  "call_id LIKE 'fo-%'")[0][0]), len(acked))
        self.assertEqual(self.escalations_twice(self.sb.conninfo), [])
        fired = int(psql(self.sb.conninfo, "SELECT count(*) FROM escalations")[0][0])
        self.assertGreater(fired, 5)
        with open(os.path.join(d.dir, "escalations.log")) as f:
            lines = [json.loads(ln) for ln in f if ln.strip()]
        keys = [(e["case"], e["deadline"], e["kind"], e["level"]) for e in lines]
        self.assertEqual(len(keys), len(set(keys)), "a deadline escalated twice in the log")
        print("\nfailover: %d events acked (%d spooled during it), %d escalations, "
              "none twice" % (len(acked), len(spooled), fired), file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
