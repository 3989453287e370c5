-- Brings a database made before migrations were frozen (hotline111 0.1.0
-- and the commits before it, whose schema_migrations name 001_init,
-- 002_timers, ...) to the tables of migration 001_baseline. Run once, in
-- the transaction that records 001_baseline as applied; every step looks
-- before it changes, so any of those states arrives at the same place.
-- Functions need nothing here: all of them are replaced at every start.

DO $$
BEGIN
    -- before 2245e97, case states were table CHECKs on plain columns
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'h111_case_status'
                      AND typnamespace = current_schema()::regnamespace) THEN
        CREATE DOMAIN h111_case_status AS text CHECK (VALUE IN ('open', 'closed'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'h111_priority'
                      AND typnamespace = current_schema()::regnamespace) THEN
        CREATE DOMAIN h111_priority AS smallint CHECK (VALUE BETWEEN 1 AND 4);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'h111_category_by'
                      AND typnamespace = current_schema()::regnamespace) THEN
        CREATE DOMAIN h111_category_by AS text CHECK (VALUE IN ('operator', 'rule'));
    END IF;
END $$;

-- the foundation commit (784848b) had no category_by: it comes last here,
-- where a fresh database has it after category (the same columns, another
-- order; nothing reads cases by position)
ALTER TABLE cases ADD COLUMN IF NOT EXISTS category_by h111_category_by;

ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_status_check,
    DROP CONSTRAINT IF EXISTS cases_priority_check,
    DROP CONSTRAINT IF EXISTS cases_category_by_check;
DO $$
BEGIN
    IF (SELECT atttypid FROM pg_attribute WHERE attrelid = 'cases'::regclass
           AND attname = 'status') <> 'h111_case_status'::regtype THEN
        ALTER TABLE cases ALTER COLUMN status DROP DEFAULT,
            ALTER COLUMN status TYPE h111_case_status,
            ALTER COLUMN status SET DEFAULT 'open',
            ALTER COLUMN priority TYPE h111_priority,
            ALTER COLUMN category_by TYPE h111_category_by;
    END IF;
END $$;

-- 002_timers: a database that stopped at 001_init
ALTER TABLE cases
    ADD COLUMN IF NOT EXISTS referred_at timestamptz,
    ADD COLUMN IF NOT EXISTS plan_at     timestamptz,
    ADD COLUMN IF NOT EXISTS closed_auto boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS held_at     timestamptz,
    ADD COLUMN IF NOT EXISTS held_s      double precision NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS timers (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases,
    deadline   text NOT NULL CHECK (deadline IN ('answer', 'claim', 'act', 'plan')),
    started_at timestamptz NOT NULL,
    due_at     timestamptz NOT NULL,
    warn_at    timestamptz,
    level      int NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL,
    held       boolean NOT NULL DEFAULT false,
    UNIQUE (case_id, deadline)
);
CREATE INDEX IF NOT EXISTS timers_next ON timers (next_at) WHERE NOT held;
CREATE TABLE IF NOT EXISTS escalations (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases,
    deadline   text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('warning', 'escalation')),
    level      int NOT NULL,
    due_at     timestamptz NOT NULL,
    fired_at   timestamptz NOT NULL,
    late_ms    bigint NOT NULL,
    priority   smallint NOT NULL,
    category   text,
    rules      text[] NOT NULL DEFAULT '{}',
    acked_at   timestamptz,
    acked_by   text,
    UNIQUE (case_id, deadline, kind, level, due_at)
);
CREATE INDEX IF NOT EXISTS escalations_case ON escalations (case_id);
CREATE INDEX IF NOT EXISTS escalations_unacked ON escalations (fired_at) WHERE acked_at IS NULL;
