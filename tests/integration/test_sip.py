"""SIP end to end: Kamailio (Debian's packages) running the shipped
contrib/kamailio/hotline111.cfg, real SIP calls placed by SIPp on loopback,
the real daemon consuming Kamailio's evapi events, the cases in a real
PostgreSQL. Nothing is faked: if the config, the evapi adapter or the store
drops, duplicates or misreads a call, a count below is wrong.

Calls: ANSWERED calls to 111 that an agent answers and the caller hangs up,
CANCELLED calls to 111 that ring until the caller gives up (CANCEL, 487),
a few that the agent hangs up and a few refused busy (the config's other
paths), and one call to another number, relayed but never reported.

Skipped (exit 77) when kamailio, its evapi module or sipp is not installed:
apt-get install kamailio kamailio-extra-modules sip-tester."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Postgres, TOP, free_port, wait_for  # noqa: E402

KAMAILIO = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")
SIPP = shutil.which("sipp")
EVAPI_SO = glob.glob("/usr/lib/*/kamailio/modules/evapi.so") + \
    glob.glob("/usr/lib/kamailio/modules/evapi.so")
CFG = os.path.join(TOP, "contrib", "kamailio", "hotline111.cfg")
SCENARIOS = os.path.join(TOP, "tests", "integration", "sipp")

# Calls of each kind; the caller numbers are the prefix and SIPp's call
# number (1, 2, …), so that each case says which kind of call made it.
ANSWERED = 100      # 0912…: the agent answers, the caller hangs up
CANCELLED = 20      # 0913…: rings, the caller hangs up first
AGENT_HANGUP = 10   # 0914…: the agent answers and hangs up
BUSY = 10           # 0915…: 486 Busy Here
# What the evapi adapter makes of each call (event types, sorted): the
# answered end with call.ended; a cancelled call is call.abandoned and, as
# only call.ended ends a call, call.ended; a refused one just ends.
ANSWERED_TYPES = "call.answered,call.ended,call.offered"
CANCELLED_TYPES = "call.abandoned,call.ended,call.offered"
BUSY_TYPES = "call.ended,call.offered"
CALLS = ANSWERED + CANCELLED + AGENT_HANGUP + BUSY
EXPECTED_EVENTS = 3 * (ANSWERED + CANCELLED + AGENT_HANGUP) + 2 * BUSY


def missing():
    """What this test needs and is not installed, or []."""
    needs = (("kamailio", KAMAILIO), ("kamailio-extra-modules (evapi.so)", EVAPI_SO),
             ("sip-tester (sipp)", SIPP))
    return [what for what, found in needs if not found]



def stop_group(proc, timeout=10):
    """SIGTERM to the process group of proc, then SIGKILL to whatever is
    left of it: Kamailio's children are in the group, and outlive a main
    process that crashed."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the usual case: the group is gone
    proc.wait()


@unittest.skipIf(missing(), "not installed: %s" % ", ".join(missing()))
class Sip(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="h111sip-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.sip_port = free_port(socket.SOCK_DGRAM)
        self.uas_port = free_port(socket.SOCK_DGRAM)
        self.uac_port = free_port(socket.SOCK_DGRAM)
        self.evapi_port = free_port(socket.SOCK_STREAM)

    def path(self, name):
        return os.path.join(self.dir, name)

    def log(self, name):
        with open(self.path(name), errors="replace") as f:
            return f.read()

    # --- processes, each stopped by a cleanup even when the test fails ---

    def start_kamailio(self):
        rundir = self.path("kamailio-run")
        os.mkdir(rundir)
        out = open(self.path("kamailio.log"), "w")
        self.addCleanup(out.close)
        # Its own process group: killing the group stops every child too.
        k = subprocess.Popen([KAMAILIO, "-f", CFG, "-DD", "-E", "-Y", rundir,
                              "-A", "LISTEN=udp:127.0.0.1:%d" % self.sip_port,
                              "-A", 'UPSTREAM="sip:127.0.0.1:%d"' % self.uas_port,
                              "-A", 'EVAPI="127.0.0.1:%d"' % self.evapi_port],
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.addCleanup(stop_group, k)

        def listening():
            if k.poll() is not None:
                raise AssertionError("kamailio exited %d:\n%s" % (k.returncode,
                                                                  self.log("kamailio.log")))
            try:
                socket.create_connection(("127.0.0.1", self.evapi_port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, timeout=30)
        return k

    def start_uas(self, scenario):
        """SIPp as the hotline side (UPSTREAM), until stopped."""
        name = os.path.splitext(scenario)[0]
        out = open(self.path(name + ".out"), "w")
        self.addCleanup(out.close)
        uas = subprocess.Popen([SIPP, "-sf", os.path.join(SCENARIOS, scenario),
                                "-i", "127.0.0.1", "-p", str(self.uas_port), "-nostdin",
                                "-trace_err", "-error_file", self.path(name + ".err")],
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, cwd=self.dir)
        self.addCleanup(stop_group, uas)

        def bound():
            # Calls start only once the UAS has its port. Read from the
            # kernel's table: a probe binding the port could take it first.
            if uas.poll() is not None:
                raise AssertionError("sipp %s exited %d:\n%s" % (
                    scenario, uas.returncode, self.log(name + ".out")[-2000:]))
            # 127.0.0.1 in host byte order, as the kernel writes it.
            want = {"%s:%04X" % (a, self.uas_port) for a in ("0100007F", "7F000001")}
            with open("/proc/net/udp") as f:
                return any(line.split()[1] in want for line in list(f)[1:])
        wait_for(bound, timeout=20)
        return uas

    def calls(self, scenario, service, count, rate):
        """SIPp as callers: count calls to service at rate per second, at
        most 20 at once. Returns when they are all done; every one must
        have gone as the scenario says (SIPp exits 0)."""
        name = "%s-%s" % (os.path.splitext(scenario)[0], service)
        err = self.path(name + ".err")
        # -recv_timeout: a call stuck waiting fails in 20 s rather than
        # hanging SIPp (its -timeout lets running calls finish).
        with open(self.path(name + ".out"), "w") as out:
            p = subprocess.Popen([SIPP, "-sf", os.path.join(SCENARIOS, scenario), "-s", service,
                                  "127.0.0.1:%d" % self.sip_port, "-i", "127.0.0.1",
                                  "-p", str(self.uac_port), "-m", str(count), "-r", str(rate),
                                  "-l", "20", "-nostdin", "-recv_timeout", "20000",
                                  "-timeout", "90", "-trace_err", "-error_file", err],
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=self.dir, start_new_session=True)
            try:
                rc = p.wait(120)
            except subprocess.TimeoutExpired:
                stop_group(p)
                rc = "killed after 120 s"
        errors = ""
        if os.path.exists(err):
            with open(err, errors="replace") as f:
                errors = f.read()
        self.assertEqual(rc, 0, "sipp %s: %s\n%s\n%s" % (
            name, rc, self.log(name + ".out")[-3000:], errors[-3000:]))

    def phase(self, uas_scenario, uac_scenario, count, rate):
        """count calls to 111 against a UAS playing uas_scenario."""
        uas = self.start_uas(uas_scenario)
        self.calls(uac_scenario, "111", count, rate)
        stop_group(uas)

    def status(self, d):
        return d.status()["sources"][0]

    # --- the test ---------------------------------------------------------

    def test_calls_through_kamailio_become_cases(self):
        t0 = time.time()
        k = self.start_kamailio()
        d = Daemon(self.pg, sets=['sources=( { type = "evapi"; '
                                  'connect = "tcp:127.0.0.1:%d"; } )' % self.evapi_port])
        self.addCleanup(d.destroy)
        d.start()
        # evapi drops what it sends while no consumer is connected: no call
        # before the daemon's source is up.
        wait_for(lambda: self.status(d)["state"] == "up", timeout=30)

        t_calls = time.time()
        uas = self.start_uas("uas_answer.xml")
        self.calls("uac_answered.xml", "111", ANSWERED, 40)
        # Relayed like any call, answered, hung up: never reported.
        self.calls("uac_answered.xml", "112", 1, 10)
        stop_group(uas)
        self.phase("uas_ring.xml", "uac_cancel.xml", CANCELLED, 20)
        self.phase("uas_answer_hangup.xml", "uac_answered_callee_bye.xml", AGENT_HANGUP, 20)
        self.phase("uas_busy.xml", "uac_busy.xml", BUSY, 20)
        t_sip = time.time() - t_calls

        count = "SELECT count(*) FROM events"
        try:
            wait_for(lambda: int(self.pg.scalar(count)) >= EXPECTED_EVENTS, timeout=30)
        except AssertionError:
            pass  # too few: the counts below say which
        t_stored = time.time() - t_calls
        time.sleep(1.0)  # anything late or duplicated would show now
        events = int(self.pg.scalar(count))
        print("\ntest_sip: %d calls placed (%d answered, %d cancelled, %d hung up by the "
              "agent, %d busy, 1 to 112); %d events stored (expected %d) %.1f s after the "
              "first call; SIP traffic %.1f s; whole test %.1f s"
              % (CALLS + 1, ANSWERED, CANCELLED, AGENT_HANGUP, BUSY, events, EXPECTED_EVENTS,
                 t_stored, t_sip, time.time() - t0), file=sys.stderr)
        self.assertEqual(events, EXPECTED_EVENTS)
        # What the source received: Kamailio sent no event twice (the
        # events table would hide a duplicate behind its primary key).
        self.assertEqual(self.status(d)["events"], EXPECTED_EVENTS)

        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases"), str(CALLS))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM cases WHERE line <> '111' "
                                        "OR line IS NULL"), "0")
        # Every case has each of its call's event types exactly once.
        kinds = self.pg.query(
            "SELECT c.caller, string_agg(e.type, ',' ORDER BY e.type), count(*) "
            "FROM cases c JOIN events e ON e.case_id = c.id GROUP BY c.caller ORDER BY 1")
        expected = sorted([[prefix + str(i), types, str(types.count(",") + 1)]
                           for prefix, n, types in (("0912", ANSWERED, ANSWERED_TYPES),
                                                    ("0913", CANCELLED, CANCELLED_TYPES),
                                                    ("0914", AGENT_HANGUP, ANSWERED_TYPES),
                                                    ("0915", BUSY, BUSY_TYPES))
                           for i in range(1, n + 1)])
        self.assertEqual(kinds, expected)

        # Answered: the agent from the 200 OK's Contact (the UAS names it
        # after the caller), hung up by the caller, a short call.
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE caller LIKE '0912%' AND call_id LIKE '%@127.0.0.1' "
            "AND operator = 'op' || caller AND offered_at IS NOT NULL "
            "AND answered_at >= offered_at AND ended_at >= answered_at "
            "AND abandoned_at IS NULL AND end_cause = 'bye by caller' "
            "AND duration_s BETWEEN 0 AND 10"), str(ANSWERED))
        # Hung up by the agent: the BYE came from the callee's side.
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE caller LIKE '0914%' AND operator = 'op' || caller "
            "AND answered_at IS NOT NULL AND ended_at >= answered_at "
            "AND end_cause = 'bye by callee'"), str(AGENT_HANGUP))
        # Busy: ended with the status, never answered nor abandoned.
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE caller LIKE '0915%' AND operator IS NULL "
            "AND answered_at IS NULL AND abandoned_at IS NULL AND ended_at >= offered_at "
            "AND end_cause = '486 Busy Here'"), str(BUSY))
        # Cancelled: abandoned while ringing, never answered, 487.
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM cases WHERE caller LIKE '0913%' AND operator IS NULL "
            "AND answered_at IS NULL AND abandoned_at >= offered_at "
            "AND ended_at IS NOT NULL AND end_cause = '487 Request Terminated' "
            "AND wait_s BETWEEN 0 AND 10"), str(CANCELLED))
        # The times are Kamailio's, one clock: offered before the rest.
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM events e JOIN events o ON o.case_id = e.case_id "
            "AND o.type = 'call.offered' WHERE e.ts < o.ts"), "0")

        kamlog = self.log("kamailio.log")
        self.assertIsNone(k.poll(), kamlog[-3000:])
        bad = [line for line in kamlog.splitlines() if " ERROR: " in line or " CRITICAL: " in line]
        self.assertEqual(bad, [], "\n".join(bad[:20]))
        self.assertIsNone(d.proc.poll(), "the daemon must still be running")
        self.assertIn("source evapi:tcp:127.0.0.1:%d: connected" % self.evapi_port,
                      d.log_text())


if __name__ == "__main__":
    if missing():
        # automake's SKIP; said loudly, since a skipped test proves nothing.
        print("*** test_sip SKIPPED: not installed: %s (apt-get install kamailio "
              "kamailio-extra-modules sip-tester) ***" % ", ".join(missing()), file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
