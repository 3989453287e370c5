"""hotline111d's command line and signals, as hotline111d(8) documents them:
options and exit codes, --check-config, --migrate, --triage, a second
daemon on a socket already answered, and SIGHUP reload (all or nothing)."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, TOP, Client, Daemon, Postgres, ev  # noqa: E402

RULES_V1 = """
categories = ( { id = "drowning"; label = "Đuối nước"; } );
rules = ( { name = "drowning-v1"; text_any = [ "đuối nước" ]; category = "drowning"; priority = 1; } );
"""
RULES_V2 = RULES_V1.replace("drowning-v1", "drowning-v2")


def run(*args, **kw):
    return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=30, **kw)


def write_temp(text, suffix=".conf"):
    fd, path = tempfile.mkstemp(prefix="h111cli-", suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class Options(unittest.TestCase):
    def setUp(self):
        self.rules = write_temp(RULES_V1)
        self.addCleanup(os.unlink, self.rules)
        self.files = tempfile.mkdtemp(prefix="h111cli-")
        self.addCleanup(shutil.rmtree, self.files)

    def conf(self, text):
        """The rules on line 1, text from line 2; the spool and the escalation
        log (which --check-config checks) somewhere writable unless text
        sets them, at the end so as not to move text's lines."""
        tail = ""
        if "spool:" not in text:
            tail += f'spool: {{ dir = "{self.files}/spool"; }};\n'
        if "log:" not in text:
            tail += f'log: {{ escalation_log = "{self.files}/esc.log"; }};\n'
        path = write_temp(f'triage: {{ rules = "{self.rules}"; }};\n' + text + tail)
        self.addCleanup(os.unlink, path)
        return path

    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^hotline111d \d+\.\d+\.\d+ \(bridge protocol 1\)")
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)

    def test_bad_usage_exits_2(self):
        self.assertEqual(run("--no-such-option").returncode, 2)
        self.assertEqual(run("stray-argument").returncode, 2)
        self.assertEqual(run("--check-config", "--migrate").returncode, 2)

    def test_check_config_ok(self):
        path = self.conf("bridge: { window = 64; };\n")
        r = run("-c", path, "--check-config")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"{path}: ok"))

    def test_check_config_errors_name_file_and_line(self):
        for text, line, msg in [
            ("bridge: {\n  window = 0;\n};\n", 3, "bridge.window: must be an integer 1..65536"),
            ("\n\nbridge: { windw = 5; };\n", 4, "unknown setting 'bridge.windw'"),
            ("log: { level = \"loud\"; };\n", 2, "log.level: must be"),
            ("bridge: { max_line = 100 };\n", 2, "bridge.max_line: must be an integer 256.."),
            ("bridge: { max_line = };\n", 2, "syntax error"),
            ("bridge: { listen = [ \"unix:/x\" \n", 3, "syntax error"),
            ("escalation: { p1 = { act = \"5x\"; }; };\n", 2, "escalation.p1.act: must be seconds"),
        ]:
            path = self.conf(text)
            r = run("-c", path, "--check-config")
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(f"{path}:{line}: {msg}", r.stderr, text)

    def test_check_config_catches_what_start_would(self):
        """A misspelt conninfo option (the daemon would wait for ever), an
        address no listener takes, files the service cannot use: refused by
        --check-config with the file and the line of the setting."""
        tmp = tempfile.mkdtemp(prefix="h111cli-")
        self.addCleanup(shutil.rmtree, tmp)
        afile = os.path.join(tmp, "a-file")
        open(afile, "w").close()
        for text, line, msg in [
            ('database: {\n  conninfo = "hots=/tmp dbname=h";\n};\n', 3,
             'database.conninfo: invalid connection option "hots"'),
            ('database: { conninfo = "host=/tmp port=5432 dbname"; };\n', 2,
             'database.conninfo: missing "=" after "dbname"'),
            ('\nmetrics:\n{\n  listen = "localhost:9111";\n};\n', 5,
             'metrics.listen: "localhost:9111" is not "" nor a "HOST:PORT" address'),
            ('bridge: { listen = [ "unix:/tmp/b.sock",\n  "tcp:127.0.0.1:70000" ]; };\n', 3,
             "bridge.listen: entry 2: tcp:127.0.0.1:70000: port 70000: must be a number"),
            ('cti: { listen = "127.0.0.1:8111"; token = "abcdefghijklmnop"; };\n', 2,
             'cti.listen: "127.0.0.1:8111" is not a "tcp:HOST:PORT" address'),
            (f'spool: {{ dir = "{afile}"; }};\n', 2, f"spool.dir: {afile}: not a directory"),
            (f'spool:\n{{\n  dir = "{tmp}/no/such/spool";\n}};\n', 4,
             f"spool.dir: {tmp}/no/such/spool: cannot be created: {tmp}/no/such: "
             "No such file or directory"),
            (f'log: {{ escalation_log = "{tmp}"; }};\n', 2,
             f"log.escalation_log: {tmp}: a directory"),
            (f'log: {{ escalation_log = "{tmp}/gone/esc.log"; }};\n', 2,
             f"log.escalation_log: {tmp}/gone/esc.log: cannot be created"),
            ('sources = ( { type = "evapi"; connect = "tcp:127.0.0.1:1"; },\n'
             '            { type = "evapi"; connect = "tcp:127.0.0.1:1"; } );\n', 2,
             "sources: two evapi sources named"),
        ]:
            path = self.conf(text)
            r = run("-c", path, "--check-config")
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(f"{path}:{line}: {msg}", r.stderr, text)
        # what the service can use passes
        path = self.conf(f'spool: {{ dir = "{tmp}/spool"; }};\n'
                         f'log: {{ escalation_log = "{tmp}/esc.log"; }};\n'
                         'database: { conninfo = "host=/tmp dbname=h connect_timeout=3"; };\n'
                         'metrics: { listen = "[::1]:9111"; };\n')
        r = run("-c", path, "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_config_rules_file_with_its_line(self):
        path = write_temp('log: { level = "info"; };\ntriage: {\n  rules = "/nonexistent/r.conf";\n};\n')
        self.addCleanup(os.unlink, path)
        r = run("-c", path, "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{path}:3: triage.rules: /nonexistent/r.conf: No such file or directory",
                      r.stderr)

    def test_set_overrides_and_refuses_unknown(self):
        path = self.conf("")
        self.assertEqual(run("-c", path, "-s", "bridge.window=64", "--check-config").returncode, 0)
        r = run("-c", path, "-s", "bridge.windows=64", "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown setting 'bridge.windows'", r.stderr)
        r = run("-c", path, "-s", "bridge.window=0", "--check-config")
        self.assertIn("bridge.window: must be an integer", r.stderr)

    def test_missing_config_file(self):
        r = run("-c", "/nonexistent/hotline111d.conf", "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/hotline111d.conf: No such file or directory", r.stderr)

    def test_check_rules(self):
        r = run("--check-rules", self.rules)
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = write_temp("categories = ( );\nrules = ( { name = \"x\"; text_any = [ \"a\" ]; "
                         "category = \"nope\"; } );\n")
        self.addCleanup(os.unlink, bad)
        r = run("--check-rules", bad)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, "^" + bad + r":\d+: ")

    def test_triage_folds_diacritics_and_case(self):
        texts = ["Cháu bị đuối nước", "CHÁU BỊ ĐUỐI NƯỚC", "chau bi duoi nuoc",
                 "Cha\u0301u bi\u0323 đuô\u0301i nươ\u0301c"]
        r = run("--triage", "--json", "--rules", self.rules, *texts)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([o["text"] for o in out], texts)
        self.assertEqual({(o["category"], o["priority"], tuple(o["rules"])) for o in out},
                         {("drowning", 1, ("drowning-v1",))})
        r = run("--triage", "--json", "--rules", self.rules, "hỏi thông tin")
        self.assertEqual(json.loads(r.stdout)["category"], None)


class WithDatabase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def daemon(self, *sets):
        d = Daemon(self.pg, sets=sets)
        self.addCleanup(d.destroy)
        return d

    def test_migrate_applies_once(self):
        d = self.daemon()
        r = run("-c", d.conf, "--migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("-c", d.conf, "--migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("applied migration", r.stderr)
        migrations = glob.glob(os.path.join(TOP, "src", "sql", "migrations", "*.sql"))
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM schema_migrations"),
                         str(len(migrations)))

    def test_migrate_without_database_fails_fast(self):
        conf = write_temp('database: { conninfo = "host=/nonexistent dbname=x"; };\n')
        self.addCleanup(os.unlink, conf)
        r = run("-c", conf, "--migrate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("database:", r.stderr)

    def test_second_daemon_on_the_same_socket_is_refused(self):
        d = self.daemon().start()
        r = run("-c", d.conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another daemon is answering there", r.stderr)
        self.assertEqual(Client(d.bridge).call(ev("cli-2nd", "ping"))["ack"], "cli-2nd")
        self.assertEqual(d.stop(), 0)

    def test_sighup_reload_is_all_or_nothing(self):
        rules = write_temp(RULES_V1)
        self.addCleanup(os.unlink, rules)
        d = self.daemon('triage.rules="%s"' % rules, "bridge.max_clients=4").start()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        tid = iter(range(100))

        def fired():
            n = next(tid)
            return c.call(ev(f"hup-{n}", "ticket.created", ticket_id=f"hup-t{n}",
                             text="đuối nước"))["rules"]

        self.assertEqual(fired(), ["drowning-v1"])
        # Broken rules: the running rules stay, and the log says why.
        with open(rules, "w") as f:
            f.write(RULES_V1 + "\nrules = oops;\n")
        d.signal(signal.SIGHUP)
        d.wait_log("reload:")
        self.assertIn("the running configuration and rules stay", d.log_text())
        self.assertEqual(fired(), ["drowning-v1"])
        # Good rules: taken; a restart-only key changed is named in a warning.
        with open(rules, "w") as f:
            f.write(RULES_V2)
        with open(d.conf, "a") as f:
            f.write('cti: { token = "changed"; };\n')
        d.signal(signal.SIGHUP)
        d.wait_log("reload: configuration and rules reloaded")
        self.assertIn("cti.token changed; it takes effect at the next restart", d.log_text())
        self.assertEqual(fired(), ["drowning-v2"])
        self.assertEqual(d.stop(), 0)

    def test_valgrind_clean_shutdown(self):
        with open(DAEMON, "rb") as f:
            if b"__asan_init" in f.read():
                self.skipTest("built with AddressSanitizer; valgrind cannot run it")
        if not shutil.which("valgrind"):
            self.skipTest("valgrind is not installed")
        d = self.daemon()
        supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
        d.start_under(["valgrind", "--error-exitcode=9", "--leak-check=full",
                       "--errors-for-leak-kinds=definite,indirect", "--suppressions=" + supp])
        c = Client(d.bridge)
        for i in range(50):
            c.call(ev(f"vg-{i}", "ticket.created", ticket_id=f"vg-{i}", text="đuối nước"))
        c.send_raw(b"not json\n")
        self.assertEqual(c.recv()["error"], "bad_json")
        d.signal(signal.SIGHUP)
        d.wait_log("reload:")
        c.close()
        self.assertEqual(d.stop(timeout=60), 0, d.log_text()[-3000:])
        self.assertIn("All heap blocks were freed", d.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
