"""The PL/pgSQL, tested at the SQL level with pgTAP: every tests/pgtap/*.sql
but policy.sql (which they include) runs under pg_prove against a database
that today's daemon created (`hotline111d --migrate`) in the harness's
private PostgreSQL. Skipped (exit 77, loudly) when pg_prove or the pgTAP
extension (Debian: postgresql-15-pgtap) is not installed."""
import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, TOP, Daemon, Postgres  # noqa: E402

TESTS = sorted(f for f in glob.glob(os.path.join(TOP, "tests", "pgtap", "*.sql"))
               if os.path.basename(f) != "policy.sql")


def pgtap_available():
    dirs = glob.glob("/usr/share/postgresql/*/extension/pgtap.control")
    return shutil.which("pg_prove") is not None and bool(dirs)


class PgTAP(unittest.TestCase):
    def setUp(self):
        self.pg = Postgres()
        self.addCleanup(self.pg.destroy)
        self.d = Daemon(self.pg)
        self.addCleanup(self.d.destroy)

    def test_pg_prove(self):
        r = subprocess.run([DAEMON, "-c", self.d.conf, "--migrate"], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.pg.query("CREATE EXTENSION pgtap; CREATE EXTENSION dblink;")
        host = re.search(r"host=(\S+)", self.pg.conninfo).group(1)
        out = subprocess.run(["pg_prove", "--host", host, "--username", "hotline111",
                              "--dbname", "hotline111", "--verbose", "--failures", *TESTS],
                             capture_output=True, text=True, timeout=300)
        print(out.stdout[-6000:], out.stderr[-3000:], sep="\n")
        self.assertEqual(out.returncode, 0, "pg_prove failed:\n" + out.stdout[-6000:]
                         + out.stderr[-3000:])
        self.assertRegex(out.stdout, r"(?m)^Result: PASS$")


if __name__ == "__main__":
    if not pgtap_available():
        # automake's SKIP; said loudly, since a skipped test proves nothing.
        print("SKIP: pg_prove or the pgTAP extension is not installed "
              "(apt-get install postgresql-15-pgtap)", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
