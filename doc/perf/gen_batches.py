import json, random, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
cats = ["abuse.sexual", "drowning", "online", "info", "violence.school", None]
rules = ["r-a", "r-b", "r-c", "r-d"]
tags = ["t1", "t2", "plan"]
ids = []
out = []
def triage():
    return {"priority": random.randint(1, 4), "category": random.choice(cats),
            "rules": random.sample(rules, random.randint(0, 2)),
            "tags": random.sample(tags, random.randint(0, 2))}
nev = 0
for b in range(int(sys.argv[3]) if len(sys.argv) > 3 else 60):
    batch = []
    for i in range(random.randint(1, int(sys.argv[2]) if len(sys.argv) > 2 else 40)):
        if ids and random.random() < 0.05:
            batch.append(random.choice(ids))   # a resend
            continue
        nev += 1
        call = "c%d" % random.randint(1, 40)
        tk = "t%d" % random.randint(1, 40)
        kind = random.choice(["call.offered", "call.answered", "call.abandoned", "call.transferred",
                              "call.ended", "ticket.created", "ticket.updated", "ticket.closed"])
        ev = {"id": "e%d" % nev, "type": kind}
        if random.random() < 0.7:
            ev["ts"] = "2026-07-04T18:%02d:%02d+07:00" % (random.randint(0, 59), random.randint(0, 59))
        if kind.startswith("call."):
            ev["call_id"] = call
        else:
            ev["ticket_id"] = tk
            if random.random() < 0.5:
                ev["call_id"] = call
        if kind == "call.offered":
            for k, v in [("caller", "+8490%07d" % random.randint(0, 5)), ("line", "111"), ("queue", "q"),
                         ("province", "Hà Nội"), ("district", "Ba Đình"), ("lang", "vi")]:
                if random.random() < 0.6: ev[k] = v
            if random.random() < 0.6: ev["ivr"] = random.sample(["1", "2", "3"], random.randint(0, 2))
        elif kind == "call.answered":
            ev["operator"] = random.choice(["lan", "minh"])
        elif kind == "call.abandoned":
            if random.random() < 0.5: ev["wait_s"] = random.randint(0, 100)
        elif kind == "call.transferred":
            ev["to"] = "x%d" % random.randint(1, 3)
        elif kind == "call.ended":
            if random.random() < 0.5: ev["duration_s"] = random.random() * 100
            if random.random() < 0.5: ev["cause"] = "normal"
        elif kind in ("ticket.created", "ticket.updated"):
            for k, v in [("operator", random.choice(["lan", "minh"])), ("text", "văn bản %d" % nev),
                         ("category", random.choice([c for c in cats if c])), ("child_age", random.randint(0, 17)),
                         ("child_gender", "nữ"), ("province", "Huế"), ("district", "d"),
                         ("tags", random.sample(tags, random.randint(0, 3)))]:
                if random.random() < 0.4: ev[k] = v
        else:
            ev["outcome"] = random.choice(["referred", "counselled"])
            if random.random() < 0.5: ev["referred_to"] = "police"
            if random.random() < 0.5: ev["text"] = "đóng %d" % nev
        el = {"ev": ev, "rx": "2026-07-04T11:00:00.%06dZ" % nev}
        if random.random() < 0.8: el["client"] = "pbx"
        if random.random() < 0.6:
            el["triage"] = triage()
            if kind == "call.offered" and random.random() < 0.7:
                el["triage"]["repeat"] = {"days": random.choice([1, 30]), "variants": [
                    {"min": 1, "decision": triage()}, {"min": 3, "decision": triage()}][:random.randint(1, 2)]}
        ids.append(el)
        batch.append(el)
    out.append(json.dumps(batch, ensure_ascii=False))
print("\n".join(out))
