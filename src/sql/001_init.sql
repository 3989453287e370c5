-- hotline111 schema, version 1: cases, the calls and tickets that make
-- them, the append-only event log, triage decisions and the audit trail.

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
    updated_at     timestamptz NOT NULL DEFAULT now()
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

-- The case an event belongs to, opened when the event names a call or a
-- ticket not seen yet (PBXs deliver out of order).
CREATE FUNCTION h111_case_of_call(p_call text, p_ts timestamptz, p_prio int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    SELECT id INTO cid FROM cases WHERE call_id = p_call;
    IF FOUND THEN
        RETURN cid;
    END IF;
    INSERT INTO cases (opened_at, priority, call_id) VALUES (p_ts, p_prio, p_call)
        ON CONFLICT (call_id) DO NOTHING RETURNING id INTO cid;
    IF cid IS NULL THEN     -- another daemon opened it in between
        SELECT id INTO cid FROM cases WHERE call_id = p_call;
    END IF;
    RETURN cid;
END $$;

CREATE FUNCTION h111_case_of_ticket(ev jsonb, p_ts timestamptz, p_prio int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
    p_call text := ev->>'call_id';
BEGIN
    SELECT case_id INTO cid FROM tickets WHERE ticket_id = ev->>'ticket_id';
    IF FOUND THEN
        -- A ticket seen before its call learns the call now, unless the
        -- call already has a case of its own.
        IF p_call IS NOT NULL THEN
            UPDATE cases SET call_id = p_call WHERE id = cid AND call_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM cases WHERE call_id = p_call);
        END IF;
        RETURN cid;
    END IF;
    IF p_call IS NOT NULL THEN
        cid := h111_case_of_call(p_call, p_ts, p_prio);
    ELSE
        INSERT INTO cases (opened_at, priority) VALUES (p_ts, p_prio) RETURNING id INTO cid;
    END IF;
    INSERT INTO tickets (ticket_id, case_id, created_at) VALUES (ev->>'ticket_id', cid, p_ts);
    RETURN cid;
END $$;

CREATE FUNCTION h111_ivr_text(ivr jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(d, '' ORDER BY n)
      FROM jsonb_array_elements_text(ivr) WITH ORDINALITY AS t(d, n)
$$;

-- What one event changes in its case.
CREATE FUNCTION h111_apply_fields(cid bigint, ev jsonb, p_ts timestamptz, actor text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind text := ev->>'type';
BEGIN
    IF kind = 'call.offered' THEN
        UPDATE cases SET offered_at = coalesce(offered_at, p_ts),
            caller = coalesce(ev->>'caller', caller), line = coalesce(ev->>'line', line),
            queue = coalesce(ev->>'queue', queue),
            ivr = coalesce(h111_ivr_text(ev->'ivr'), ivr),
            province = coalesce(ev->>'province', province),
            district = coalesce(ev->>'district', district), lang = coalesce(ev->>'lang', lang)
          WHERE id = cid;
    ELSIF kind = 'call.answered' THEN
        UPDATE cases SET answered_at = coalesce(answered_at, p_ts),
            operator = coalesce(operator, ev->>'operator') WHERE id = cid;
    ELSIF kind = 'call.abandoned' THEN
        UPDATE cases SET abandoned_at = coalesce(abandoned_at, p_ts),
            wait_s = coalesce((ev->>'wait_s')::numeric, wait_s) WHERE id = cid;
    ELSIF kind = 'call.transferred' THEN
        UPDATE cases SET transferred_to = ev->>'to' WHERE id = cid;
    ELSIF kind = 'call.ended' THEN
        UPDATE cases SET ended_at = coalesce(ended_at, p_ts),
            duration_s = coalesce((ev->>'duration_s')::numeric, duration_s),
            end_cause = coalesce(ev->>'cause', end_cause) WHERE id = cid;
    ELSIF kind IN ('ticket.created', 'ticket.updated') THEN
        PERFORM h111_apply_ticket(cid, ev, p_ts);
    ELSIF kind = 'ticket.closed' THEN
        PERFORM h111_apply_ticket(cid, ev, p_ts);
        UPDATE cases SET status = 'closed', outcome = ev->>'outcome',
            referred_to = coalesce(ev->>'referred_to', referred_to),
            closed_at = coalesce(closed_at, p_ts) WHERE id = cid;
        INSERT INTO audit (actor, action, case_id, after)
            VALUES (actor, 'case.close', cid, jsonb_build_object('outcome', ev->>'outcome',
                'referred_to', ev->>'referred_to', 'event', ev->>'id'));
    END IF;
END $$;

CREATE FUNCTION h111_apply_ticket(cid bigint, ev jsonb, p_ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ev->>'type' = 'ticket.created' THEN
        UPDATE tickets SET operator = coalesce(ev->>'operator', operator),
            text = coalesce(ev->>'text', text), category = coalesce(ev->>'category', category)
          WHERE ticket_id = ev->>'ticket_id';
    ELSIF ev ? 'text' THEN
        INSERT INTO notes (case_id, ticket_id, at, author, text)
            VALUES (cid, ev->>'ticket_id', p_ts, ev->>'operator', ev->>'text');
    END IF;
    UPDATE cases SET category = coalesce(ev->>'category', category),
        category_by = CASE WHEN ev ? 'category' THEN 'operator' ELSE category_by END,
        operator = coalesce(operator, ev->>'operator'),
        child_age = coalesce((ev->>'child_age')::smallint, child_age),
        child_gender = coalesce(ev->>'child_gender', child_gender),
        province = coalesce(ev->>'province', province),
        district = coalesce(ev->>'district', district),
        tags = CASE WHEN ev ? 'tags' THEN ARRAY(SELECT DISTINCT unnest(tags ||
            ARRAY(SELECT jsonb_array_elements_text(ev->'tags')))) ELSE tags END
      WHERE id = cid;
END $$;

-- Raise-only triage: the decision names a priority floor, maybe a category
-- and the rules that fired; the case keeps the union of rules and tags. A
-- category an operator chose is never replaced by a rule's.
CREATE FUNCTION h111_apply_triage(cid bigint, ev jsonb, t jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c cases%ROWTYPE;
    new_prio smallint;
    new_cat text;
    fired text[] := ARRAY(SELECT jsonb_array_elements_text(t->'rules'));
BEGIN
    SELECT * INTO c FROM cases WHERE id = cid;
    new_prio := least(c.priority, coalesce((t->>'priority')::smallint, c.priority));
    new_cat := c.category;
    IF t->>'category' IS NOT NULL AND c.category_by IS DISTINCT FROM 'operator' THEN
        new_cat := t->>'category';
    END IF;
    UPDATE cases SET priority = new_prio, category = new_cat,
        category_by = CASE WHEN new_cat IS DISTINCT FROM c.category THEN 'rule'
                           ELSE category_by END,
        rules = rules || ARRAY(SELECT r FROM unnest(fired) AS r WHERE r <> ALL (rules)),
        tags = tags || ARRAY(SELECT g FROM jsonb_array_elements_text(t->'tags') AS g
                             WHERE g <> ALL (tags))
      WHERE id = cid;
    INSERT INTO triage (case_id, event_id, priority_before, priority_after,
        category_before, category_after, rules)
      VALUES (cid, ev->>'id', c.priority, new_prio, c.category, new_cat, fired);
END $$;
