#!/usr/bin/env python3
"""console_fanout: how fast a change reaches the consoles that tail it.

Issue 5, item 7: 200 consoles running `tail` while the bridge takes 1,000
events/s; the time from an event's ack to its arrival at every console,
p50/p99. Goal: p99 under 50 ms.

    tests/bench/console_fanout.py [--consoles 200] [--rate 1000] [--seconds 20]
                                  [--threads 1] [--timeline]

Starts its own PostgreSQL and hotline111d as the integration tests do
(tests/integration/harness.py; the build tree is $H111_TOP_BUILDDIR, else
build/), log level info, default deadlines (no escalation fires in the run),
then runs tests/bench/bench_fanout from the build tree, which opens the
consoles, drives the bridge open loop and measures (see bench_fanout.c; the
measuring is in C because a Python reader's own rounds over 200 sockets
took as long as the goal). Build it with
    gcc -std=gnu11 -O2 -include buildconf.h -I../src ../tests/bench/bench_fanout.c \\
        src/libhotline111.a -lpthread -lm -o tests/bench/bench_fanout
in the build tree (or `make tests/bench/bench_fanout` once Makefile.am lists it).

Prints bench_fanout's figures, the CPU that hotline111d and its PostgreSQL
backends used over the run and the load average, and bench_fanout's RESULT
line with goal=met|MISSED appended. Exit status: bench_fanout's (1 when an
alert was lost, a console dropped, an event nacked), or 1 when the daemon
died.
"""
import argparse
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, Daemon, Postgres  # noqa: E402

BENCH = os.path.join(BUILD, "tests", "bench", "bench_fanout")


def cpu_s(pids):
    """CPU seconds (user + system) of processes, from /proc."""
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def run(args, d):
    backends = [int(r[0]) for r in d.pg.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'hotline111d'")]
    load0 = os.getloadavg()
    cmd = [BENCH, "-S", d.bridge, "-C", os.path.join(d.dir, "console.sock"),
           "-c", str(args.consoles), "-r", str(args.rate), "-d", str(args.seconds),
           "-t", str(args.threads)] + (["--timeline"] if args.timeline else [])
    d0, b0, t0 = cpu_s([d.proc.pid]), cpu_s(backends), time.monotonic()
    bench = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    d1, b1 = cpu_s([d.proc.pid]), cpu_s(backends)
    lines = bench.stdout.splitlines()
    result = [x for x in lines if x.startswith("RESULT ")]
    print("\n".join(x for x in lines if not x.startswith("RESULT ")))
    print("CPU over %.1f s: hotline111d %.0f%%, its PostgreSQL backends %.0f%% of one core; "
          "%d CPUs, load average %.2f before, %.2f after"
          % (wall, 100 * (d1 - d0) / wall, 100 * (b1 - b0) / wall, os.cpu_count(), load0[0],
             os.getloadavg()[0]))
    status = bench.returncode
    if d.proc.poll() is not None:
        print("FAILED: hotline111d exited %d" % d.proc.returncode)
        status = 1
    if result:
        p99 = float(result[0].split(" p99_ms=")[1].split()[0])
        goal = "n/a" if args.consoles == 0 else "met" if status == 0 and p99 < 50 else "MISSED"
        print("%s goal=%s" % (result[0], goal))
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=200)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="threads reading the consoles")
    ap.add_argument("--timeline", action="store_true", help="figures for each second too")
    args = ap.parse_args()
    if not os.access(BENCH, os.X_OK):
        sys.exit("console_fanout: no %s; build it (see --help)" % BENCH)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.consoles + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.consoles + 1024), hard))
    pg = Postgres()
    d = None
    try:
        d = Daemon(pg, sets=['log.level="info"'])
        d.start()
        return run(args, d)
    finally:
        if d:
            d.destroy()
        pg.destroy()


if __name__ == "__main__":
    sys.exit(main())
