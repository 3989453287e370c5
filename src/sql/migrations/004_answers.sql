-- hotline111 schema, migration 004: the answers to the key questions of the
-- rules file (hotline111-rules(5) QUESTIONS), given at the console
-- (hotline111 assess) or on a ticket event (hotline111-bridge(7) answers).
-- One row per answer given, never updated: the case's answer to a question
-- is its latest row, and the earlier ones say who changed their mind when.
CREATE TABLE answers (
    id        bigserial PRIMARY KEY,
    case_id   bigint NOT NULL REFERENCES cases,
    question  text NOT NULL,
    answer    jsonb NOT NULL,       -- a word ("yes") or a number (an age), as given
    given_by  text NOT NULL,        -- console:OPERATOR or bridge:CLIENT
    at        timestamptz NOT NULL,
    event_id  text                  -- the bridge event that carried it, or NULL
);
CREATE INDEX answers_case ON answers (case_id, question, id);
