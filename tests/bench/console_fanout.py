#!/usr/bin/env python3
"""console_fanout: how fast a change reaches the consoles that tail it.

Issue 5, item 7: 200 consoles running `tail` while the bridge takes 1,000
events/s; the time from an event's ack to its arrival at every console,
p50/p99. Goal: p99 under 50 ms.

    tests/bench/console_fanout.py [--consoles 200] [--rate 1000] [--seconds 20]

Starts its own PostgreSQL and hotline111d (tests/integration/harness.py: the
build tree is $H111_TOP_BUILDDIR, else build/), opens CONSOLES console
connections that each send {"cmd":"tail"}, then drives one bridge
connection open loop at RATE events/s for SECONDS: event g is due at
t0 + g/RATE whatever the daemon does, each a ticket.created that opens a
case of its own. For every event it records when its ack was read and when
each console read the matching case alert ({"alert":"case", "change":
"event"}); all on one monotonic clock, in one process.

Figures: per event, the time from its ack until the last console has it
(the goal's "every console"); per delivery (event x console), the same for
each console; the ack latency from the scheduled send. A negative time
means the alert came before the ack (both leave the daemon after the same
commit). The bench checks that it kept up: its own CPU share is printed,
and a console that misses an alert or is dropped fails the run (exit 1).

Output ends with one line for scripts:
    RESULT consoles=N rate=R events=E p50_ms=... p99_ms=... max_ms=...
           delivery_p50_ms=... delivery_p99_ms=... ack_p99_ms=... goal=met|MISSED
"""
import argparse
import array
import json
import multiprocessing
import os
import re
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Daemon, Postgres  # noqa: E402

CASE_RE = re.compile(rb'"case":(\d+)')
TEXTS = [
    "Mẹ của một bé trai 9 tuổi phản ánh con bị bạn cùng lớp đánh, bắt nạt ở trường suốt hai "
    "tháng, có vết bầm ở tay và lưng.",
    "Cuộc gọi hỏi thông tin về thủ tục làm giấy khai sinh cho con khi bố mẹ chưa đăng ký kết "
    "hôn.",
    "Người dân báo có hai em nhỏ tắm ở ao gần nhà, một em bị đuối nước đã được vớt lên.",
    "Em 15 tuổi kể bị cha dượng đánh đập, chửi mắng mỗi khi say rượu.",
]


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def cpu_s(pids):
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def read_line(sock, buf):
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line, rest


class Console:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        hello, rest = read_line(self.sock, b"")
        if json.loads(hello).get("hello") != "hotline111-console":
            raise SystemExit("console_fanout: not a console: %r" % hello)
        self.sock.sendall(b'{"cmd":"tail","id":1}\n')
        reply, self.buf = read_line(self.sock, rest)
        if json.loads(reply).get("result") != {"tailing": True}:
            raise SystemExit("console_fanout: tail refused: %r" % reply)
        self.sock.setblocking(False)
        self.cases = array.array("q")
        self.times = array.array("d")
        self.closed = False

    def on_readable(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        t = time.monotonic()
        if not data:
            self.closed = True
            return
        data = self.buf + data
        end = data.rfind(b"\n")
        if end < 0:
            self.buf = data
            return
        self.buf = data[end + 1:]
        found = CASE_RE.findall(data, 0, end)
        self.cases.extend(map(int, found))
        self.times.extend([t] * len(found))


class Bridge:
    def __init__(self, path, rate, n):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        _, self.buf = read_line(self.sock, b"")
        self.sock.setblocking(False)
        self.rate, self.n = rate, n
        self.out = bytearray()
        self.sent = 0
        self.acked = 0
        self.sched = array.array("d", bytes(8 * n))
        self.ack_at = {}      # case -> monotonic time its ack was read
        self.ack_lat = array.array("d")
        self.errors = []
        tag = "%x%d" % (int(time.time()), os.getpid())
        self.lines = [json.dumps({"id": "fan-%s-%d" % (tag, g), "type": "ticket.created",
                                  "ticket_id": "fan-%s-%d" % (tag, g),
                                  "text": TEXTS[g % len(TEXTS)]}, ensure_ascii=False).encode()
                      + b"\n" for g in range(n)]

    def due(self, now):
        """Queues every event whose time has come; returns when the next one is due."""
        while self.sent < self.n and self.t0 + self.sent / self.rate <= now:
            self.sched[self.sent] = self.t0 + self.sent / self.rate
            self.out += self.lines[self.sent]
            self.sent += 1
        if self.out:
            try:
                self.out = self.out[self.sock.send(self.out):]
            except BlockingIOError:
                pass
        return self.t0 + self.sent / self.rate if self.sent < self.n else None

    def on_readable(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        t = time.monotonic()
        if not data:
            self.errors.append("the daemon closed the bridge connection")
            return
        data = self.buf + data
        lines = data.split(b"\n")
        self.buf = lines.pop()
        for line in lines:
            r = json.loads(line)
            if "ack" not in r or r.get("dup"):
                self.errors.append("not an ack: %r" % line)
                continue
            self.ack_at[r["case"]] = t
            self.ack_lat.append(t - self.sched[self.acked])
            self.acked += 1


def drive(bridge, t0, results):
    """The bridge's own loop, in a process of its own: an ack is read when it comes."""
    sel = selectors.DefaultSelector()
    sel.register(bridge.sock, selectors.EVENT_READ, bridge)
    bridge.t0 = t0
    cpu0 = time.process_time()
    while bridge.acked < bridge.n and not bridge.errors:
        now = time.monotonic()
        next_due = bridge.due(now)
        if now - t0 > bridge.n / bridge.rate + 60:
            bridge.errors.append("no progress: %d of %d acked" % (bridge.acked, bridge.n))
            break
        timeout = 0.05 if next_due is None else max(0.0, min(0.05, next_due - now))
        if sel.select(timeout):
            bridge.on_readable()
    results.send((bridge.sched.tobytes(), bridge.ack_lat.tobytes(), bridge.ack_at, bridge.acked,
                  bridge.errors, time.process_time() - cpu0))
    results.close()


def run(d, args):
    n = args.rate * args.seconds
    console_path = os.path.join(d.dir, "console.sock")
    consoles = [Console(console_path) for _ in range(args.consoles)]
    bridge = Bridge(d.bridge, args.rate, n)
    sel = selectors.DefaultSelector()
    for c in consoles:
        sel.register(c.sock, selectors.EVENT_READ, c)
    backends = [int(r[0]) for r in d.pg.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'hotline111d'")]
    print("== %d consoles tailing; %d events at %d/s over one bridge connection"
          % (len(consoles), n, args.rate), file=sys.stderr)

    cpu0, dcpu0, bcpu0 = time.process_time(), cpu_s([d.proc.pid]), cpu_s(backends)
    start = time.monotonic() + 0.2  # CLOCK_MONOTONIC: one clock for both processes
    theirs, ours = multiprocessing.Pipe(duplex=False)
    driver = multiprocessing.Process(target=drive, args=(bridge, start, ours))
    driver.start()
    ours.close()
    got, last_progress = None, time.monotonic()
    while True:
        now = time.monotonic()
        if got is None and theirs.poll():
            got = theirs.recv()
            drain_until = now + 10
        complete = got is not None and all(len(c.cases) >= got[3] for c in consoles)
        if complete or any(c.closed for c in consoles) or (got and now > drain_until):
            break
        if now - last_progress > 30:
            break
        for key, _ in sel.select(0.05):
            key.data.on_readable()
            last_progress = now
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu0
    dcpu, bcpu = cpu_s([d.proc.pid]) - dcpu0, cpu_s(backends) - bcpu0
    driver.join(30)
    for c in consoles:
        c.sock.close()
    bridge.sock.close()
    if got is None:
        bridge.errors.append("the bridge driver did not finish")
    else:
        sched, lat, bridge.ack_at, bridge.acked, bridge.errors, bcpu_driver = got
        bridge.t0 = start
        bridge.sched = array.array("d")
        bridge.sched.frombytes(sched)
        bridge.ack_lat = array.array("d")
        bridge.ack_lat.frombytes(lat)
        cpu += bcpu_driver
    return consoles, bridge, wall, cpu, dcpu, bcpu


def timeline(bridge, last):
    """Per second of the run: p50/p99 of the ack latency and of every-console."""
    by_case = {}
    for i, case in enumerate(bridge.ack_at):
        by_case[case] = i
    seconds = {}
    for case, t_ack in bridge.ack_at.items():
        g = by_case[case]
        sec = int(bridge.sched[g] - bridge.t0) if g < len(bridge.sched) else -1
        row = seconds.setdefault(sec, ([], []))
        row[0].append(bridge.ack_lat[g] if g < len(bridge.ack_lat) else float("nan"))
        if case in last:
            row[1].append(last[case] - t_ack)
    print("%6s %12s %12s %12s %12s" % ("second", "ack p50", "ack p99", "every p50", "every p99"))
    for sec in sorted(seconds):
        a, e = sorted(seconds[sec][0]), sorted(seconds[sec][1])
        print("%6d %12.2f %12.2f %12.2f %12.2f" % (sec, percentile(a, 50) * 1000,
                                                   percentile(a, 99) * 1000,
                                                   percentile(e, 50) * 1000,
                                                   percentile(e, 99) * 1000))


def report(args, consoles, bridge, wall, cpu, dcpu, bcpu):
    n = args.rate * args.seconds
    failures = list(bridge.errors)
    if bridge.acked != n:
        failures.append("%d of %d events acked" % (bridge.acked, n))
    dropped = sum(c.closed for c in consoles)
    if dropped:
        failures.append("%d consoles closed by the daemon" % dropped)
    last = {}           # case -> the latest arrival over all consoles
    per_delivery = array.array("d")
    missing = 0
    for c in consoles:
        seen = set()
        for case, t in zip(c.cases, c.times):
            ack = bridge.ack_at.get(case)
            if ack is None or case in seen:
                continue  # not one of ours (or a repeat)
            seen.add(case)
            per_delivery.append(t - ack)
            if t > last.get(case, -1e18):
                last[case] = t
        missing += len(bridge.ack_at) - len(seen)
    if missing:
        failures.append("%d alerts never reached their console" % missing)
    every = sorted(last[case] - bridge.ack_at[case] for case in last)
    deliveries = sorted(per_delivery)
    acks = sorted(bridge.ack_lat)
    ms = 1000.0
    p50, p99, top = (percentile(every, 50) * ms, percentile(every, 99) * ms,
                     (every[-1] if every else float("nan")) * ms)
    goal = "met" if p99 < 50 and not failures else "MISSED"
    print("\nhotline111 console fan-out: %d consoles tailing, %d events at %d/s (%d achieved), "
          "%d CPUs" % (args.consoles, n, args.rate, round(bridge.acked / max(wall, 1e-9)),
                       os.cpu_count()))
    print("%-42s %9s %9s %9s %9s" % ("ms after the ack", "p50", "p90", "p99", "max"))
    for name, v in (("event at every console (goal p99 < 50)", every),
                    ("each delivery (event x console)", deliveries)):
        print("%-42s %9.2f %9.2f %9.2f %9.2f" % (name, percentile(v, 50) * ms,
                                                 percentile(v, 90) * ms, percentile(v, 99) * ms,
                                                 (v[-1] if v else float("nan")) * ms))
    print("%-42s %9.2f %9.2f %9.2f %9.2f" % ("ack, from the scheduled send",
                                             percentile(acks, 50) * ms, percentile(acks, 90) * ms,
                                             percentile(acks, 99) * ms,
                                             (acks[-1] if acks else float("nan")) * ms))
    print("deliveries %d of %d; CPU over %.1f s: this bench %.0f%%, hotline111d %.0f%%, its "
          "PostgreSQL backends %.0f%%; bench peak RSS %.0f MB"
          % (len(deliveries), n * args.consoles, wall, 100 * cpu / wall, 100 * dcpu / wall,
             100 * bcpu / wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if cpu / wall > 0.85:
        print("warning: the bench used %.0f%% of a CPU: it may be what held the alerts up"
              % (100 * cpu / wall))
    if args.timeline:
        timeline(bridge, last)
    for f in failures:
        print("FAILED: " + f)
    print("RESULT consoles=%d rate=%d events=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
          "delivery_p50_ms=%.2f delivery_p99_ms=%.2f ack_p99_ms=%.2f bench_cpu=%.0f goal=%s"
          % (args.consoles, args.rate, bridge.acked, p50, p99, top,
             percentile(deliveries, 50) * ms, percentile(deliveries, 99) * ms,
             percentile(acks, 99) * ms, 100 * cpu / wall, goal))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consoles", type=int, default=200)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--timeline", action="store_true", help="figures for each second too")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.consoles + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.consoles + 1024), hard))
    pg = Postgres()
    d = None
    try:
        d = Daemon(pg, sets=['log.level="info"'])
        d.start()
        result = report(args, *run(d, args))
        if d.proc.poll() is not None:
            print("FAILED: hotline111d exited %d" % d.proc.returncode)
            result = 1
        return result
    finally:
        if d:
            d.destroy()
        pg.destroy()


if __name__ == "__main__":
    sys.exit(main())
