-- The escalation policy the pgTAP tests run under (as escalation.c writes
-- it from the shipped defaults), with Tết 2027 as holidays. Included by
-- each test file with \ir, inside its transaction.
INSERT INTO settings (key, value) VALUES ('escalation', '{
  "p": [{"answer": {"s": 20}, "claim": {"s": 60}, "act": {"s": 3600}, "plan": {"wd": 5}},
        {"answer": {"s": 60}, "claim": {"s": 300}, "act": {"s": 43200}, "plan": {"wd": 5}},
        {"answer": {"s": 120}, "claim": {"s": 1800}, "act": {"s": 86400}},
        {"answer": {"s": 300}, "claim": {"s": 14400}, "act": {"s": 259200}}],
  "warn": 0.8, "repeat": 300,
  "levels": ["shift supervisor", "duty manager", "provincial child protection / police"],
  "weekend": [6, 7],
  "holidays": ["2027-02-04", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10"],
  "tz": "Asia/Ho_Chi_Minh"}')
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
