"""Database refusals that are not the event's fault: a read-only database
(a failover in progress), a statement timeout, a lock held past
lock_timeout. The real PostgreSQL is made to refuse; the daemon must keep
every event (no bad_value), pause intake, and store and acknowledge
everything once the fault clears. The bridge and the CTI webhook both."""
import http.client
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (  # noqa: E402
    Client, Daemon, EventsLock, Postgres, ev, free_port, http_request, wait_for)

TOKEN = "faults-test-token_0123456789"
PATH = "/api/v1/cti/" + TOKEN
FORM = "application/x-www-form-urlencoded"



def lines(prefix, n):
    return b"".join(b'{"id":"%s-%d","type":"call.offered","call_id":"%s-%d"}\n'
                    % (prefix.encode(), i, prefix.encode(), i) for i in range(n))


class Post(threading.Thread):
    """One CTI request in the background: its status and body once answered."""

    def __init__(self, port, call_id):
        super().__init__(daemon=True)
        self.port, self.call_id, self.result = port, call_id, None

    def run(self):
        self.result = http_request(self.port, "POST", PATH,
                                   "event=newCall&direction=in&callId=" + self.call_id,
                                   {"Content-Type": FORM}, timeout=60)


class Faults(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.port = free_port()

    def daemon(self, options=None):
        sets = [f'cti.listen="tcp:127.0.0.1:{self.port}"', f'cti.token="{TOKEN}"']
        if options:
            sets.append(f"database.conninfo=\"{self.pg.conninfo} options='{options}'\"")
        d = Daemon(self.pg, sets=sets)
        self.addCleanup(d.destroy)
        d.start()
        d.wait_log("database: connected")
        wait_for(lambda: d.status()["database"] == "up", timeout=10)
        return d

    def stored(self, prefix):
        return int(self.pg.scalar(
            "SELECT count(*) FROM events WHERE event_id LIKE '%s-%%'" % prefix))

    def cti_stored(self, call_id):
        return int(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE call_id = '%s'" % call_id))

    def assert_quiet(self, c, seconds):
        """No reply at all on c for that long: nothing acked, nothing nacked."""
        c.sock.settimeout(seconds)
        try:
            self.fail("a reply during the fault: %r" % c.recv_line())
        except socket.timeout:
            pass
        finally:
            c.sock.settimeout(20)

    def ride_out(self, d, c, prefix, n, sqlstate, clear):
        """n events and a CTI request sent into the fault; clear() ends it;
        then every event is acked (none nacked) and stored."""
        post = Post(self.port, prefix + "-cti")
        post.start()
        # taken before intake pauses, so it is kept and answered 200 after
        d.wait_log("events handed to the store", timeout=20)
        c.send_raw(lines(prefix, n))
        d.wait_log("(SQLSTATE %s" % sqlstate, timeout=20)
        wait_for(lambda: d.status()["database"] == "down", timeout=10)
        self.assert_quiet(c, 1.0)
        # intake is paused: a new webhook request is told to come back later
        late = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        late.request("POST", PATH, "event=newCall&direction=in&callId=late-1",
                     {"Content-Type": FORM})
        self.assertEqual(late.getresponse().status, 503)
        late.close()
        clear()
        replies = [c.recv() for _ in range(n)]
        self.assertEqual([r.get("ack") for r in replies], ["%s-%d" % (prefix, i) for i in range(n)],
                         replies)
        self.assertEqual(self.stored(prefix), n)
        post.join(30)
        self.assertEqual(post.result[0], 200, post.result)
        self.assertEqual(self.cti_stored(prefix + "-cti"), 1)
        d.wait_log("store: the database accepts events again")
        wait_for(lambda: d.status()["database"] == "up", timeout=10)
        log = d.log_text()
        self.assertNotIn("bad_value", log)
        self.assertNotIn("refused by the database", log)
        self.assertEqual(c.call(ev(prefix + "-after", "call.offered", call_id="x"))["ack"],
                         prefix + "-after")

    def test_read_only_database_keeps_events(self):
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.assertEqual(c.call(ev("first", "call.offered", call_id="first"))["ack"],
                         "first")
        self.pg.query("ALTER SYSTEM SET default_transaction_read_only = on")
        self.pg.query("SELECT pg_reload_conf()")
        wait_for(lambda: self.pg.scalar("SHOW default_transaction_read_only") == "on")

        def clear():
            time.sleep(1)
            self.pg.query("ALTER SYSTEM RESET default_transaction_read_only")
            self.pg.query("SELECT pg_reload_conf()")
        self.ride_out(d, c, "ro", 50, "25006", clear)

    def ride_out_lock(self, option, prefix, sqlstate):
        """The events table locked for a second under a daemon whose session
        option turns the wait into SQLSTATE sqlstate."""
        d = self.daemon(option)
        c = Client(d.bridge)
        self.addCleanup(c.close)
        lock = EventsLock(self.pg)
        self.addCleanup(lock.release)

        def clear():
            time.sleep(1)
            lock.release()
        self.ride_out(d, c, prefix, 50, sqlstate, clear)

    def test_statement_timeout_keeps_events(self):
        self.ride_out_lock("-c statement_timeout=300", "st", "57014")

    def test_lock_held_past_lock_timeout_keeps_events(self):
        self.ride_out_lock("-c lock_timeout=200", "lk", "55P03")

    def test_stop_during_a_fault_answers_unavailable(self):
        """What a stop cannot store in its 10 s is answered unavailable (resend),
        never bad_value, and the daemon still exits cleanly."""
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        self.pg.query("ALTER SYSTEM SET default_transaction_read_only = on")
        self.pg.query("SELECT pg_reload_conf()")
        wait_for(lambda: self.pg.scalar("SHOW default_transaction_read_only") == "on")
        c.send_raw(lines("sp", 5))
        d.wait_log("(SQLSTATE 25006", timeout=20)
        d.signal(signal.SIGTERM)
        c.sock.settimeout(30)
        replies = [c.recv() for _ in range(5)]
        self.assertEqual([(r.get("nack"), r.get("error")) for r in replies],
                         [("sp-%d" % i, "unavailable") for i in range(5)])
        self.assertEqual(d.proc.wait(20), 0)
        self.assertIn("stop: gave up after 10 s with 5 events not stored", d.log_text())
        self.assertEqual(self.stored("sp"), 0)

    def test_bad_data_is_still_the_event_fault(self):
        """A class 22 refusal alone is nacked bad_value; its batch mates are stored."""
        d = self.daemon()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        # a case id past bigint is a value PostgreSQL refuses (22003), not the protocol
        self.pg.query("CREATE FUNCTION h111_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                      "BEGIN IF NEW.event_id = 'bd-bad' THEN RAISE EXCEPTION 'no' USING "
                      "ERRCODE = '22023'; END IF; RETURN NEW; END $$")
        self.pg.query("CREATE TRIGGER h111_test_refuse BEFORE INSERT ON events FOR EACH ROW "
                      "EXECUTE FUNCTION h111_test_refuse()")
        c.send_raw(b'{"id":"bd-1","type":"call.offered","call_id":"bd-1"}\n'
                   b'{"id":"bd-bad","type":"call.offered","call_id":"bd-2"}\n'
                   b'{"id":"bd-3","type":"call.offered","call_id":"bd-3"}\n')
        replies = [c.recv() for _ in range(3)]
        self.assertEqual(replies[0]["ack"], "bd-1")
        self.assertEqual((replies[1]["nack"], replies[1]["error"]), ("bd-bad", "bad_value"))
        self.assertIn("SQLSTATE 22023", replies[1]["detail"])
        self.assertEqual(replies[2]["ack"], "bd-3")
        self.assertEqual(d.status()["database"], "up")


if __name__ == "__main__":
    unittest.main(verbosity=2)
