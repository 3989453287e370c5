"""A daemon started while PostgreSQL is down (issue 12, part 4): it opens its
listeners, says READY, acks bridge, evapi and webhook events as spooled
(with the priority its own triage gives them) and reports itself degraded;
when PostgreSQL starts, the schema is brought up first, then the spool is
replayed in order, exactly once, then the deadlines run. A kill -9 while it
waits loses and duplicates nothing; a schema this build cannot use keeps
the spool; without a spool the daemon waits and says for what."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (  # noqa: E402
    DAEMON, RULES, TOP, Client, Daemon, Postgres, ev, free_port, http_request, wait_for)
from test_spool import FORM, PATH, TOKEN, LiveEvapi, line  # noqa: E402

# Deadlines of seconds: a replayed call that nobody answered escalates once.
FAST = ["escalation.warn=0", "escalation.repeat=600",
        "escalation.p4={ answer = 2; claim = 600; act = 6000; }"]
DROWNING = "con tôi bị đuối nước ở ao"
MIGRATIONS = sorted(os.path.basename(p)[:-4]
                    for p in glob.glob(os.path.join(TOP, "src", "sql", "migrations", "*.sql")))


def triage(text):
    """What the shipped rules say of a text, as `hotline111d --triage` prints it."""
    out = subprocess.run([DAEMON, "--triage", "--json", "--rules", RULES, text],
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def daemons_of(d):
    """The pids of processes running with d's configuration file."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if d.conf.encode() in f.read().split(b"\0"):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


class StartWithoutDatabase(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)

    def daemon(self, *sets, start=True):
        d = Daemon(self.pg, sets=sets)
        self.addCleanup(d.destroy)
        if start:
            d.start()
        return d

    def stored(self, like):
        """event id -> how many rows hold it."""
        return {r[0]: int(r[1]) for r in self.pg.query(
            "SELECT event_id, count(*) FROM events WHERE event_id LIKE '%s' "
            "GROUP BY event_id" % like)}

    def log_order(self, d, *needles):
        """Where each needle first appears in the daemon's log (all must)."""
        text = d.log_text()
        at = [text.find(n) for n in needles]
        self.assertTrue(all(a >= 0 for a in at), list(zip(needles, at)))
        return at

    def test_started_down_spools_with_priority_then_migrates_replays_and_arms(self):
        expect = triage(DROWNING)
        self.assertLess(expect["priority"], 4, "the rules must raise this text")
        self.pg.stop()
        evapi = LiveEvapi().serve(self)
        cti, metrics = free_port(), free_port()
        d = self.daemon(*FAST, 'sources=( { type = "evapi"; connect = "tcp:127.0.0.1:%d"; '
                        'name = "k1"; } )' % evapi.port,
                        f'cti.listen="tcp:127.0.0.1:{cti}"', f'cti.token="{TOKEN}"',
                        f'metrics.listen="127.0.0.1:{metrics}"')
        self.assertIn("starting without it", d.log_text())
        self.assertIn("without the database: events go to the local spool", d.log_text())

        c = Client(d.bridge)
        self.addCleanup(c.close)
        n = 200
        c.send_raw(b"".join(line("s", i) for i in range(n)))
        acks = [c.recv() for _ in range(n)]
        self.assertEqual([a["ack"] for a in acks], ["s-%d" % i for i in range(n)])
        for a in acks:
            self.assertEqual((a["case"], a["priority"], a.get("spooled")), (None, 4, True), a)
            self.assertNotIn("dup", a)
        t = c.call(ev("s-ticket", "ticket.created", ticket_id="s-t1", text=DROWNING))
        self.assertEqual(t, {"ack": "s-ticket", "case": None, "priority": expect["priority"],
                             "category": expect["category"], "rules": expect["rules"],
                             "spooled": True})
        status, body = http_request(cti, "POST", PATH, "event=newCall&direction=in&callId=s-wh",
                                    {"Content-Type": FORM})
        self.assertEqual((status, json.loads(body)),
                         (200, {"case": None, "priority": 4, "spooled": True}))
        wait_for(lambda: d.status()["sources"][0]["state"] == "up", timeout=20)
        evapi.offer("s-ev@pbx")
        wait_for(lambda: d.status()["spool"]["records"] == n + 3, timeout=20)

        st = d.status()
        self.assertEqual(st["database"], "down")
        self.assertEqual(st["health"]["state"], "degraded", st["health"])
        self.assertIn("database unreachable: events go to the local spool",
                      st["health"]["reasons"])
        self.assertEqual(d.cli("status").returncode, 4)
        code, text = http_request(metrics, "GET", "/healthz")
        self.assertEqual(code, 200)
        self.assertIn(b"degraded: database unreachable", text)
        t0 = time.time()
        q = d.cli("queue")
        self.assertNotEqual(q.returncode, 0)
        self.assertIn("unreachable", q.stderr)
        self.assertLess(time.time() - t0, 5, "answered at once, not after a wait")

        self.pg.start()
        d.wait_log("spool: replay done", timeout=60)
        ready, connected, replaying, done = self.log_order(
            d, "database: the schema is ready", "database: connected",
            "spool: replaying %d events before any new one" % (n + 3), "spool: replay done")
        self.assertLess(ready, connected)
        self.assertLess(connected, replaying)
        self.assertLess(replaying, done)
        applied = [r[0] for r in self.pg.query("SELECT name FROM schema_migrations "
                                               "ORDER BY name")]
        self.assertEqual(applied, MIGRATIONS)

        stored = self.stored("s-%")
        self.assertEqual(len(stored), n + 1)
        self.assertEqual(set(stored.values()), {1})
        self.assertEqual(set(self.stored("cti:s-wh%").values()), {1})
        self.assertEqual(int(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE call_id = 's-ev@pbx'")), 1)
        order = [r[0] for r in self.pg.query(
            "SELECT call_id FROM cases WHERE call_id ~ '^s-[0-9]+$' ORDER BY id")]
        self.assertEqual(order, ["s-%d" % i for i in range(n)])
        prio = self.pg.query("SELECT c.priority, c.category FROM cases c "
                             "JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = 's-t1'")
        self.assertEqual(prio, [[str(expect["priority"]), expect["category"]]])

        # the deadlines: armed by the replay, fired once each (late: the
        # calls came while the database was away), and loaded after the schema
        d.wait_log("escalation: ", timeout=10)
        self.assertLess(ready, d.log_text().find("pending deadlines loaded"))
        wait_for(lambda: int(self.pg.scalar(
            "SELECT count(DISTINCT e.case_id) FROM escalations e JOIN cases c "
            "ON c.id = e.case_id WHERE c.call_id LIKE 's-%' AND e.deadline = 'answer'")) >= n,
            timeout=60)
        twice = self.pg.query("SELECT case_id, level FROM escalations WHERE kind = "
                              "'escalation' GROUP BY case_id, deadline, level "
                              "HAVING count(*) > 1")
        self.assertEqual(twice, [])

        after = c.call(ev("s-after", "call.offered", call_id="s-after"))
        self.assertIsInstance(after["case"], int)
        self.assertNotIn("spooled", after)
        wait_for(lambda: d.status()["health"]["state"] == "ok", timeout=20)

    def test_kill9_while_waiting_then_restart_with_the_database_up(self):
        self.pg.stop()
        d = self.daemon()
        c = Client(d.bridge)
        n = 3000
        for s in range(0, n, 500):
            c.send_raw(b"".join(line("w", s + i) for i in range(500)))
            self.assertTrue(all(c.recv().get("spooled") for _ in range(500)))
        c.close()
        d.kill9()
        # the process that waited for the database went with it: nothing
        # holds the spool or the sockets, nothing migrates behind our back
        wait_for(lambda: not daemons_of(d), timeout=10)
        self.pg.start()
        d.start()
        self.assertNotIn("another hotline111d", d.log_text())
        d.wait_log("spool: replay done", timeout=60)
        stored = self.stored("w-%")
        self.assertEqual(len(stored), n)
        self.assertEqual(set(stored.values()), {1})
        order = [r[0] for r in self.pg.query(
            "SELECT call_id FROM cases WHERE call_id LIKE 'w-%' ORDER BY id")]
        self.assertEqual(order, ["w-%d" % i for i in range(n)])

    def test_schema_newer_than_the_binary_keeps_the_spool(self):
        d = self.daemon(start=False)
        out = subprocess.run([DAEMON, "-c", d.conf, "--migrate"], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.pg.query("INSERT INTO schema_migrations (name, checksum) "
                      "VALUES ('999_from_the_future', 'x')")
        self.pg.stop()
        d.start()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        c.send_raw(b"".join(line("n", i) for i in range(50)))
        self.assertTrue(all(c.recv().get("spooled") for _ in range(50)))
        self.pg.start()
        d.wait_log("which this hotline111d does not know", timeout=60)
        d.wait_log("nothing is replayed into a schema this hotline111d cannot use")
        st = d.status()
        self.assertEqual(st["spool"]["records"], 50)
        self.assertEqual(st["health"]["state"], "degraded")
        self.assertTrue(any("999_from_the_future" in r for r in st["health"]["reasons"]),
                        st["health"])
        self.assertEqual(self.stored("n-%"), {})
        more = c.call(ev("n-more", "call.offered", call_id="n-more"))
        self.assertTrue(more.get("spooled"), more)
        # the administrator mends the database and reloads
        self.pg.query("DELETE FROM schema_migrations WHERE name = '999_from_the_future'")
        d.signal(signal.SIGHUP)
        d.wait_log("spool: replay done", timeout=60)
        stored = self.stored("n-%")
        self.assertEqual(len(stored), 51)
        self.assertEqual(set(stored.values()), {1})

    def test_without_a_spool_it_waits_and_says_for_what(self):
        self.pg.stop()
        d = self.daemon('spool.dir=""', start=False)
        d.start(wait=False)
        d.wait_log("waiting for it before opening any listener: spool.dir is off", timeout=30)
        time.sleep(0.5)
        self.assertFalse(os.path.exists(d.bridge), "no listener before the database")
        self.assertNotIn(" ready: ", d.log_text())
        self.pg.start()
        d.wait_log(" ready: ", timeout=30)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        r = c.call(ev("ns-1", "call.offered", call_id="ns-1"))
        self.assertEqual(r["ack"], "ns-1")
        self.assertIsInstance(r["case"], int)

    def test_migrate_alone_still_needs_the_database(self):
        d = self.daemon(start=False)
        self.pg.stop()
        t0 = time.time()
        out = subprocess.run([DAEMON, "-c", d.conf, "--migrate"], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn("database: ", out.stderr)
        self.assertLess(time.time() - t0, 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
