-- hotline111 schema, migration 002: each triage decision keeps why each
-- rule fired, {"RULE": "the folded words it matched", ...}, as the daemon's
-- triage sends it (issue 10). NULL for decisions stored before.
ALTER TABLE triage ADD COLUMN why jsonb;
