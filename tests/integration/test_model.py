"""The second reader (hotline111-rules(5) `model`, hotline111d(8) --train):
--train on a small labelled fixture, then --triage with the model: a
suggestion with the words that weighed most, the raise cap at P2; the daemon
started with a rules file naming the model, its suggestion in `show`, and a
SIGHUP with a broken model refused with the old model kept."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import DAEMON, Client, Daemon, Postgres, ev  # noqa: E402

RULES = """
version = 2;
model = { file = "small.model"; max_priority = 2; min_confidence = 0.4; };
categories = (
  { id = "abuse.sexual"; label = "Xâm hại tình dục"; },
  { id = "drowning"; label = "Đuối nước"; },
  { id = "info"; label = "Thông tin"; }
);
rules = (
  { name = "drowning-now"; text_any = [ "đuối nước" ]; category = "drowning"; priority = 1; },
  { name = "help-now"; text_any = [ "cứu với" ]; priority = 1; }
);
"""

SEXUAL = ["bé bị ông hàng xóm sờ soạng vùng kín", "chú họ hay sờ soạng vùng kín của cháu",
          "thầy giáo sờ soạng vùng kín học sinh", "anh rể sờ soạng vùng kín em nhiều lần",
          "bé gái bị người lạ sờ soạng ở vùng kín", "ông ấy sờ soạng vùng kín con bé",
          "bảo vệ trường sờ soạng vùng kín bé trai", "dượng sờ soạng vùng kín em mỗi tối",
          "bé kể bị sờ soạng vùng kín ở nhà trẻ", "có người sờ soạng vùng kín cháu ở công viên"]
DROWN = ["bé trượt chân xuống ao sâu chưa thấy lên", "hai đứa tắm sông bị nước cuốn",
         "cháu lặn xuống hồ không thấy nổi lên", "con rơi xuống giếng sau nhà",
         "trẻ bơi ra xa bị sóng cuốn ở biển", "bé ngã xuống mương nước sâu",
         "cháu bị chìm ở hồ bơi", "thằng bé lội suối bị lũ cuốn", "bé rơi xuống kênh",
         "con nhỏ ngã xuống ao cá"]
INFO = ["cho tôi hỏi thủ tục nhận con nuôi", "xin số điện thoại phòng lao động",
        "tôi muốn hỏi về luật trẻ em", "tổng đài làm việc mấy giờ",
        "cho hỏi địa chỉ trung tâm tư vấn", "tôi gọi để cảm ơn tổng đài",
        "hỏi về học bổng cho trẻ khó khăn", "muốn đăng ký làm tình nguyện viên",
        "xin tài liệu tuyên truyền cho trường", "hỏi chế độ cho trẻ mồ côi"]


def fixture():
    rows = ["# ID TEXT CATEGORIES MAXP MINP"]
    for i, t in enumerate(SEXUAL):
        rows.append(f"s{i:02d}\t{t}\tabuse.sexual\t2\t1")
    for i, t in enumerate(DROWN):
        rows.append(f"d{i:02d}\t{t}\tdrowning\t1\t1")
    for i, t in enumerate(INFO):
        rows.append(f"i{i:02d}\t{t}\tinfo\t4\t3")
    return "\n".join(rows) + "\n"


def run(*args):
    return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=60)


class Model(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="h111model-")
        cls.rules = os.path.join(cls.dir, "rules.conf")
        cls.model = os.path.join(cls.dir, "small.model")
        cls.tsv = os.path.join(cls.dir, "notes.tsv")
        with open(cls.rules, "w") as f:
            f.write(RULES)
        with open(cls.tsv, "w") as f:
            f.write(fixture())
        cls.trained = run("--train", "-o", cls.model, "--rules", cls.rules, cls.tsv)
        cls.pg = None

    @classmethod
    def tearDownClass(cls):
        if cls.pg is not None:
            cls.pg.destroy()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def triage(self, *texts, rules=None):
        r = run("--triage", "--json", "--rules", rules or self.rules, *texts)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def test_train(self):
        r = self.trained
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("30 notes, 3 classes", r.stdout)
        self.assertIn("5-fold cross-validated accuracy, by class", r.stdout)
        for cls, n in (("abuse.sexual", 10), ("drowning", 10), ("info", 10), ("all", 30)):
            self.assertRegex(r.stdout, r"\n  %s +%d notes +\d+\.\d %%" % (cls.replace(".", r"\."), n))
        with open(self.model) as f:
            self.assertEqual(f.readline(), "hotline111-model 1\n")
        # the same notes give the same file, byte for byte
        again = os.path.join(self.dir, "again.model")
        self.assertEqual(run("--train", "-o", again, "--rules", self.rules, self.tsv).returncode, 0)
        with open(again, "rb") as a, open(self.model, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_train_refuses(self):
        bad = os.path.join(self.dir, "bad.tsv")
        with open(bad, "w") as f:
            f.write("s01\tbé bị đánh\tabuse.physical\t2\t1\ni01\thỏi\tinfo\t4\t3\n")
        r = run("--train", "-o", os.path.join(self.dir, "x.model"), "--rules", self.rules, bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("label 'abuse.physical' is not a category of", r.stderr)
        with open(bad, "w") as f:
            f.write("just one column\n")
        r = run("--train", "-o", os.path.join(self.dir, "x.model"), bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.tsv:1: expected ID TEXT CATEGORIES MAXP MINP", r.stderr)
        self.assertEqual(run("--train", bad).returncode, 2, "no -o")

    def test_suggestion_and_cap(self):
        text = "có ông lạ cứ sờ soạng vùng kín của bé ở ngoài ngõ"
        got, = self.triage(text)
        m = got["model"]
        self.assertEqual(m["category"], "abuse.sexual")
        self.assertTrue(m["applied"])
        self.assertGreaterEqual(m["p"], 0.4)
        self.assertTrue(any("sờ soạng" in w or "vùng kín" in w for w in m["words"]), m)
        self.assertEqual((got["category"], got["priority"]), ("abuse.sexual", 2),
                         "the model raised to P2, its cap, no further")
        # the plain output shows it on a line of its own
        r = run("--triage", "--rules", self.rules, text)
        self.assertRegex(r.stdout, r"\n    model: abuse\.sexual 0\.\d\d \u2014 .*(sờ soạng|vùng kín)"
                         r".* \(applied\)\n")
        # a rule with a floor and no category: the model names it, the rule's P1 stands
        got, = self.triage("cứu với, ông lạ sờ soạng vùng kín của bé")
        self.assertEqual((got["category"], got["priority"]), ("abuse.sexual", 1))
        # a rule chose the category: the model is reported, not applied
        got, = self.triage("bé đuối nước, ông lạ sờ soạng vùng kín")
        self.assertEqual(got["category"], "drowning")
        self.assertFalse(got["model"]["applied"])
        # folded variants get the same answer
        v = self.triage(text, text.upper(), "co ong la cu so soang vung kin cua be o ngoai ngo")
        self.assertEqual({(g["category"], g["priority"], g["model"]["p"]) for g in v},
                         {("abuse.sexual", 2, m["p"])})

    def test_daemon_show_and_reload(self):
        type(self).pg = self.pg or Postgres()
        d = Daemon(self.pg, sets=['triage.rules="%s"' % self.rules])
        self.addCleanup(d.destroy)
        d.start()
        c = Client(d.bridge)
        self.addCleanup(c.close)
        seq = iter(range(100))

        def ticket(text):
            n = next(seq)
            return c.call(ev(f"model-{n}", "ticket.created", ticket_id=f"model-t{n}", text=text))

        def shown(case):
            r = d.cli("--json", "show", str(case))
            self.assertEqual(r.returncode, 0, r.stderr)
            return [t["why"].get("@model") for t in json.loads(r.stdout)["triage"]]

        r = ticket("có ông lạ cứ sờ soạng vùng kín của bé ở ngoài ngõ")
        self.assertEqual((r["priority"], r["category"]), (2, "abuse.sexual"))
        m, = shown(r["case"])
        self.assertEqual((m["category"], m["applied"]), ("abuse.sexual", True))
        self.assertTrue(0.4 <= m["p"] <= 1 and m["p"] == round(m["p"], 2), m)
        human = d.cli("show", str(r["case"])).stdout
        self.assertRegex(human, r"\n      model: abuse\.sexual 0\.\d\d \u2014 .+ \(applied\)\n")
        # a broken model: the reload is refused, rules and model stay
        with open(self.model, "rb") as f:
            good = f.read()
        with open(self.model, "wb") as f:
            f.write(good[: len(good) // 2])
        d.signal(signal.SIGHUP)
        d.wait_log("reload:")
        log = d.log_text()
        self.assertIn("model: %s:" % self.model, log)
        self.assertIn("the running configuration and rules stay", log)
        r = ticket("ông kia sờ soạng vùng kín của cháu gái")
        self.assertEqual((r["priority"], r["category"]), (2, "abuse.sexual"))
        m, = shown(r["case"])
        self.assertEqual(m["category"], "abuse.sexual", "the old model still reads")
        # the good model back: taken
        with open(self.model, "wb") as f:
            f.write(good)
        d.signal(signal.SIGHUP)
        d.wait_log("reload: configuration and rules reloaded")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
