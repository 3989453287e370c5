-- hotline111 schema, migration 001: the baseline, the tables of version
-- 0.1.0 (its 001_init to 005_escalation_due folded into one file).
--
-- A migration never changes once released: the daemon records a checksum
-- of each when it applies it, and refuses to start when a file it applied
-- has changed since. A change to the tables is a new numbered file.
-- Migrations hold tables, domains, indexes and data moves only; functions
-- and views live in src/sql/functions/, applied at every start.

-- Domains rather than table CHECKs: a domain's check is cached with the type
-- and runs only where the column is written, while a table CHECK is planned
-- again at every UPDATE of any column of the row.
CREATE DOMAIN h111_case_status AS text CHECK (VALUE IN ('open', 'closed'));
CREATE DOMAIN h111_priority AS smallint CHECK (VALUE BETWEEN 1 AND 4);
CREATE DOMAIN h111_category_by AS text CHECK (VALUE IN ('operator', 'rule'));

CREATE TABLE cases (
    id             bigserial PRIMARY KEY,
    opened_at      timestamptz NOT NULL,
    status         h111_case_status NOT NULL DEFAULT 'open',
    priority       h111_priority NOT NULL,
    category       text,
    category_by    h111_category_by,
    rules          text[] NOT NULL DEFAULT '{}',
    tags           text[] NOT NULL DEFAULT '{}',
    call_id        text UNIQUE,
    caller         text,
    line           text,
    queue          text,
    ivr            text,
    lang           text,
    province       text,
    district       text,
    child_age      smallint,
    child_gender   text,
    operator       text,            -- the owner: who answered or claimed it
    offered_at     timestamptz,
    answered_at    timestamptz,
    abandoned_at   timestamptz,
    wait_s         numeric,
    transferred_to text,
    ended_at       timestamptz,
    duration_s     numeric,
    end_cause      text,
    outcome        text,
    referred_to    text,
    closed_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    referred_at    timestamptz,     -- a referral or intervention recorded: act met
    plan_at        timestamptz,     -- the intervention plan recorded: plan met
    closed_auto    boolean NOT NULL DEFAULT false,  -- silent P4 call, closed by itself
    held_at        timestamptz,     -- on hold: act and plan clocks paused
    held_s         double precision NOT NULL DEFAULT 0  -- seconds held so far
);
CREATE INDEX cases_open ON cases (priority, opened_at) WHERE status = 'open';
CREATE INDEX cases_caller ON cases (caller, opened_at) WHERE caller IS NOT NULL;

CREATE TABLE tickets (
    ticket_id  text PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases,
    created_at timestamptz NOT NULL,
    operator   text,
    text       text,
    category   text
);
CREATE INDEX tickets_case ON tickets (case_id);

CREATE TABLE notes (
    id        bigserial PRIMARY KEY,
    case_id   bigint NOT NULL REFERENCES cases,
    ticket_id text,
    at        timestamptz NOT NULL,
    author    text,
    text      text NOT NULL
);
CREATE INDEX notes_case ON notes (case_id);

-- One row per event ever accepted; event_id is the PBX's idempotency key
-- and the row keeps the first result, which a resent id gets back.
CREATE TABLE events (
    event_id    text PRIMARY KEY,
    type        text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    client      text,
    case_id     bigint NOT NULL REFERENCES cases,
    priority    smallint NOT NULL,
    category    text,
    rules       text[] NOT NULL DEFAULT '{}',
    body        jsonb NOT NULL
);
CREATE INDEX events_case ON events (case_id);

-- Every triage decision: what it saw, what it changed, which rules fired.
CREATE TABLE triage (
    id              bigserial PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES cases,
    event_id        text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    priority_before smallint NOT NULL,
    priority_after  smallint NOT NULL,
    category_before text,
    category_after  text,
    rules           text[] NOT NULL
);
CREATE INDEX triage_case ON triage (case_id);

CREATE TABLE audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,          -- bridge:CLIENT, console:OPERATOR, daemon
    peer    text,
    action  text NOT NULL,
    case_id bigint,
    before  jsonb,
    after   jsonb
);
CREATE INDEX audit_case ON audit (case_id);

-- The escalation policy of the daemons (escalation.* in hotline111d.conf),
-- written by each daemon at start and on reload.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each open case carries at most one timer per deadline. The intake
-- transaction arms, tightens and stops them as the case changes, so a timer
-- can never disagree with its case.
CREATE TABLE timers (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases,
    deadline   text NOT NULL CHECK (deadline IN ('answer', 'claim', 'act', 'plan')),
    started_at timestamptz NOT NULL,   -- when its clock started
    due_at     timestamptz NOT NULL,   -- the deadline
    warn_at    timestamptz,            -- the early warning, NULL once sent or when off
    level      int NOT NULL DEFAULT 0, -- escalation levels fired so far
    next_at    timestamptz NOT NULL,   -- when it next needs attention
    held       boolean NOT NULL DEFAULT false,
    UNIQUE (case_id, deadline)
);
CREATE INDEX timers_next ON timers (next_at) WHERE NOT held;

CREATE TABLE escalations (
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
CREATE INDEX escalations_case ON escalations (case_id);
CREATE INDEX escalations_unacked ON escalations (fired_at) WHERE acked_at IS NULL;
