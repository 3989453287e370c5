-- hotline111 schema, version 2: deadlines that escalate.
--
-- Each open case carries at most one timer per deadline (answer, claim,
-- act, plan). The intake transaction arms, tightens and stops them as the
-- case changes (h111_rearm), so a timer can never disagree with its case.
-- Firing claims due timers with FOR UPDATE SKIP LOCKED and records each
-- escalation in the same transaction, so two daemons, or a daemon killed
-- mid-fire, never escalate a deadline and level twice nor skip one.

ALTER TABLE cases
    ADD COLUMN referred_at timestamptz,   -- a referral or intervention recorded: act met
    ADD COLUMN plan_at     timestamptz,   -- the intervention plan recorded: plan met
    ADD COLUMN closed_auto boolean NOT NULL DEFAULT false,  -- silent P4 call, closed by itself
    ADD COLUMN held_at     timestamptz,   -- on hold: act and plan clocks paused
    ADD COLUMN held_s      double precision NOT NULL DEFAULT 0;  -- seconds held so far

-- The escalation policy of the daemons (escalation.* in hotline111d.conf),
-- written by each daemon at start and on reload.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

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

-- A working day: not a weekend day (ISO 1 Monday .. 7 Sunday), not a holiday.
CREATE FUNCTION h111_working_day(d date, pol jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT (pol->'weekend' @> to_jsonb(extract(isodow FROM d)::int))
       AND NOT (pol->'holidays' @> to_jsonb(to_char(d, 'YYYY-MM-DD')))
$$;

-- start + n working days, in the hotline's time zone: the same time of day
-- on the n-th working day after; a clock started on a day off starts at the
-- beginning of the next working day.
CREATE FUNCTION h111_add_working_days(start timestamptz, n int, pol jsonb)
RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    tz text := coalesce(pol->>'tz', 'UTC');
    local timestamp := start AT TIME ZONE tz;
    d date := local::date;
    counted int := 0;
    scanned int := 0;
BEGIN
    IF NOT h111_working_day(d, pol) THEN
        WHILE NOT h111_working_day(d, pol) LOOP
            d := d + 1;
            scanned := scanned + 1;
            IF scanned > 3660 THEN  -- a calendar with no working day at all
                RAISE EXCEPTION 'no working day in ten years after %', start;
            END IF;
        END LOOP;
        local := d::timestamp;
    END IF;
    WHILE counted < n LOOP
        d := d + 1;
        scanned := scanned + 1;
        IF scanned > 3660 THEN
            RAISE EXCEPTION 'no working day in ten years after %', start;
        END IF;
        IF h111_working_day(d, pol) THEN
            counted := counted + 1;
        END IF;
    END LOOP;
    RETURN (d + local::time) AT TIME ZONE tz;
END $$;

-- When a deadline of this priority falls for a clock started at `start`;
-- NULL when the policy has none. One expression, so that it is inlined
-- where it is called rather than parsed and planned at every call.
CREATE FUNCTION h111_due(start timestamptz, prio int, deadline text, pol jsonb)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN start IS NULL THEN NULL
        WHEN pol->'p'->(prio - 1)->deadline ? 'wd'
            THEN h111_add_working_days(start, (pol->'p'->(prio - 1)->deadline->>'wd')::int, pol)
        WHEN pol->'p'->(prio - 1)->deadline ? 's'
            THEN start + make_interval(secs => (pol->'p'->(prio - 1)->deadline->>'s')::double precision)
    END
$$;

-- plpgsql keeps its plan for the session; an SQL function with a FROM
-- would be planned at every call.
CREATE FUNCTION h111_policy() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT value FROM settings WHERE key = 'escalation');
END $$;

-- Makes a case's timers match the case: arms what its state asks for,
-- moves a deadline earlier after a priority raise (counted from the
-- original start, never later than before), and stops what was met.
-- Returns the earliest moment any of its timers needs attention.
CREATE FUNCTION h111_rearm(cid bigint) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
    c cases%ROWTYPE;
    pol jsonb := h111_policy();
    k text;
    start timestamptz;
    due timestamptz;
    warn timestamptz;
    t timers%ROWTYPE;
BEGIN
    IF pol IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO c FROM cases WHERE id = cid;
    FOREACH k IN ARRAY ARRAY['answer', 'claim', 'act', 'plan'] LOOP
        start := CASE k
            WHEN 'answer' THEN CASE WHEN c.status = 'open' AND c.answered_at IS NULL
                AND c.abandoned_at IS NULL AND c.ended_at IS NULL THEN c.offered_at END
            WHEN 'claim' THEN CASE WHEN c.status = 'open' AND c.operator IS NULL
                THEN c.opened_at END
            WHEN 'act' THEN CASE WHEN c.status = 'open' AND c.referred_at IS NULL
                THEN c.opened_at END
            -- a referral starts the plan clock, which a closed ticket does not stop
            WHEN 'plan' THEN CASE WHEN c.plan_at IS NULL AND NOT c.closed_auto
                AND (c.status = 'open' OR c.outcome = 'referred') THEN c.referred_at END
        END;
        due := h111_due(start, c.priority, k, pol);
        IF k IN ('act', 'plan') THEN
            due := due + make_interval(secs => c.held_s);
        END IF;
        SELECT * INTO t FROM timers WHERE case_id = cid AND deadline = k;
        IF due IS NULL THEN
            DELETE FROM timers WHERE case_id = cid AND deadline = k;
            CONTINUE;
        END IF;
        warn := CASE WHEN (pol->>'warn')::double precision > 0 THEN
            start + (due - start) * (pol->>'warn')::double precision END;
        IF t.id IS NULL THEN
            INSERT INTO timers (case_id, deadline, started_at, due_at, warn_at, next_at, held)
                VALUES (cid, k, start, due, warn, coalesce(warn, due),
                        k IN ('act', 'plan') AND c.held_at IS NOT NULL);
        ELSIF due < t.due_at AND t.level = 0 THEN
            UPDATE timers SET due_at = due,
                warn_at = CASE WHEN t.warn_at IS NOT NULL THEN least(warn, t.warn_at) END,
                next_at = coalesce(CASE WHEN t.warn_at IS NOT NULL THEN least(warn, t.warn_at) END,
                                   due)
              WHERE id = t.id;
        ELSE
            UPDATE timers SET held = (k IN ('act', 'plan') AND c.held_at IS NOT NULL)
              WHERE id = t.id AND held IS DISTINCT FROM (k IN ('act', 'plan') AND c.held_at IS NOT NULL);
        END IF;
    END LOOP;
    -- GROUP BY keeps the planner from its min() shortcut: an ordered scan of
    -- timers_next filtered on case_id, which reads every pending timer while
    -- the table has no statistics yet
    RETURN (SELECT min(next_at) FROM timers WHERE case_id = cid AND NOT held GROUP BY case_id);
END $$;

-- Claims the timers due now (at most p_limit, oldest first), records one
-- warning or escalation for each, and moves each timer on: a warning to
-- its deadline, an escalation to the next level `repeat` seconds later
-- (the last level repeats). Returns the escalation log records, each with
-- its timer's next moment, then the earliest moment pending overall.
CREATE FUNCTION h111_fire(p_limit int)
RETURNS TABLE (record jsonb, next_at timestamptz) LANGUAGE plpgsql AS $$
DECLARE
    pol jsonb := h111_policy();
    nlevels int := greatest(jsonb_array_length(pol->'levels'), 1);
    t timers%ROWTYPE;
    c cases%ROWTYPE;
    k text;
    lvl int;
    due timestamptz;
    esc bigint;
    nxt timestamptz;
    fired timestamptz := clock_timestamp();
    fmt constant text := 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM';
BEGIN
    -- times in the log are the hotline's local time, as supervisors read them
    PERFORM set_config('timezone', pol->>'tz', true);
    FOR t IN SELECT * FROM timers x WHERE x.next_at <= fired AND NOT x.held
             ORDER BY x.next_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        SELECT * INTO c FROM cases WHERE id = t.case_id;
        due := t.next_at;
        -- a warning whose deadline has passed already says nothing new
        IF t.warn_at IS NOT NULL AND t.level = 0 AND t.due_at > fired THEN
            k := 'warning';
            lvl := 0;
            nxt := t.due_at;
            UPDATE timers SET warn_at = NULL, next_at = nxt WHERE id = t.id;
        ELSE
            k := 'escalation';
            lvl := least(t.level + 1, nlevels);
            -- late (after an outage): one escalation now, the next level a full
            -- `repeat` later, never a burst that catches up level by level
            nxt := t.next_at + make_interval(secs => (pol->>'repeat')::double precision);
            IF nxt <= fired THEN
                nxt := fired + make_interval(secs => (pol->>'repeat')::double precision);
            END IF;
            UPDATE timers SET level = t.level + 1, warn_at = NULL, next_at = nxt WHERE id = t.id;
        END IF;
        INSERT INTO escalations (case_id, deadline, kind, level, due_at, fired_at, late_ms,
                                 priority, category, rules)
            VALUES (c.id, t.deadline, k, lvl, due, fired,
                    (extract(epoch FROM fired - due) * 1000)::bigint,
                    c.priority, c.category, c.rules)
            ON CONFLICT DO NOTHING RETURNING id INTO esc;
        CONTINUE WHEN esc IS NULL;
        next_at := nxt;
        record := jsonb_build_object(
            'ts', to_char(fired, fmt), 'kind', k, 'escalation', esc, 'case', c.id,
            'priority', c.priority, 'category', c.category, 'deadline', t.deadline,
            'level', lvl, 'due', to_char(due, fmt),
            'late_ms', (extract(epoch FROM fired - due) * 1000)::bigint,
            'caller', c.caller, 'rules', to_jsonb(c.rules),
            'target', pol->'levels'->>(lvl - 1));
        -- every console of every daemon hears of it (the daemons mask the caller)
        PERFORM pg_notify('hotline111', jsonb_build_object('alert', 'escalation',
            'escalation', record)::text);
        RETURN NEXT;
    END LOOP;
    -- a last row with no record: the earliest moment still pending anywhere,
    -- which covers the other deadlines of the cases just seen
    record := NULL;
    next_at := (SELECT min(x.next_at) FROM timers x WHERE NOT x.held);
    IF next_at IS NOT NULL THEN
        RETURN NEXT;
    END IF;
END $$;

-- A supervisor acknowledges an escalation: the chain of its deadline stops.
CREATE FUNCTION h111_ack(p_escalation bigint, p_actor text, p_peer text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    e escalations%ROWTYPE;
BEGIN
    UPDATE escalations SET acked_at = now(), acked_by = p_actor
     WHERE id = p_escalation AND acked_at IS NULL RETURNING * INTO e;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE escalations SET acked_at = now(), acked_by = p_actor
     WHERE case_id = e.case_id AND deadline = e.deadline AND acked_at IS NULL;
    DELETE FROM timers WHERE case_id = e.case_id AND deadline = e.deadline AND level > 0;
    INSERT INTO audit (actor, peer, action, case_id, after)
        VALUES (p_actor, p_peer, 'escalation.ack', e.case_id,
                jsonb_build_object('escalation', e.id, 'deadline', e.deadline, 'level', e.level));
    RETURN e.case_id;
END $$;

-- Hold pauses a case's act and plan clocks while it waits on an outside
-- party; resume moves those deadlines on by the time held.
CREATE FUNCTION h111_hold(cid bigint, p_hold boolean, p_reason text, p_actor text, p_peer text)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    c cases%ROWTYPE;
    paused interval;
BEGIN
    SELECT * INTO c FROM cases WHERE id = cid FOR UPDATE;
    IF NOT FOUND OR (c.held_at IS NOT NULL) = p_hold THEN
        RETURN NULL;
    END IF;
    IF p_hold THEN
        UPDATE cases SET held_at = now() WHERE id = cid;
        UPDATE timers SET held = true WHERE case_id = cid AND deadline IN ('act', 'plan');
    ELSE
        paused := now() - c.held_at;
        UPDATE cases SET held_at = NULL,
            held_s = held_s + extract(epoch FROM paused) WHERE id = cid;
        UPDATE timers SET held = false, due_at = due_at + paused, warn_at = warn_at + paused,
            next_at = next_at + paused
          WHERE case_id = cid AND deadline IN ('act', 'plan');
    END IF;
    INSERT INTO audit (actor, peer, action, case_id, after)
        VALUES (p_actor, p_peer, CASE WHEN p_hold THEN 'case.hold' ELSE 'case.resume' END,
                cid, jsonb_build_object('reason', p_reason));
    RETURN (SELECT min(next_at) FROM timers WHERE case_id = cid AND NOT timers.held
            GROUP BY case_id);
END $$;

-- Referral, plan, the silent P4 call that closes itself: what events mean
-- for the deadlines, on top of version 1's fields.
CREATE OR REPLACE FUNCTION h111_apply_deadline_fields(cid bigint, ev jsonb, p_ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind text := ev->>'type';
BEGIN
    IF kind LIKE 'ticket.%' THEN
        IF ev ? 'referred_to' OR ev->>'outcome' = 'referred' THEN
            UPDATE cases SET referred_at = coalesce(referred_at, p_ts) WHERE id = cid;
        END IF;
        IF ev->'tags' ? 'plan' THEN
            UPDATE cases SET plan_at = coalesce(plan_at, p_ts) WHERE id = cid;
        END IF;
        -- a ticket for a call that had closed itself as silent reopens it
        UPDATE cases SET status = 'open', outcome = NULL, closed_at = NULL, closed_auto = false
         WHERE id = cid AND closed_auto AND kind <> 'ticket.closed';
    ELSIF kind = 'call.ended' THEN
        UPDATE cases SET status = 'closed', outcome = 'no_action', closed_at = p_ts,
            closed_auto = true
         WHERE id = cid AND status = 'open' AND priority = 4
           AND NOT EXISTS (SELECT 1 FROM tickets WHERE tickets.case_id = cid);
    END IF;
END $$;

-- A triage decision for a call may come with variants for repeat callers
-- (rules that look at the caller's earlier cases): the count is made here,
-- in the transaction that stores the event, and the variant it reaches wins.
CREATE FUNCTION h111_repeat_decision(cid bigint, t jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c cases;
    earlier int;
    chosen jsonb := t - 'repeat';
    v jsonb;
BEGIN
    IF NOT t ? 'repeat' THEN
        RETURN t;
    END IF;
    SELECT * INTO c FROM cases WHERE id = cid;
    IF c.caller IS NULL THEN
        RETURN chosen;
    END IF;
    -- counted up to the highest threshold only: a caller with hundreds of
    -- calls (pranks, silent calls) costs no more than one with three
    SELECT count(*) INTO earlier FROM (
        SELECT 1 FROM cases x
         WHERE x.caller = c.caller AND x.id <> cid AND x.opened_at < c.opened_at
           AND x.opened_at >= c.opened_at - make_interval(days => (t->'repeat'->>'days')::int)
         ORDER BY x.caller, x.opened_at DESC
         LIMIT (SELECT max((m.value->>'min')::int)
                  FROM jsonb_array_elements(t->'repeat'->'variants') m)) s;
    FOR v IN SELECT value FROM jsonb_array_elements(t->'repeat'->'variants') LOOP
        IF earlier >= (v->>'min')::int THEN
            chosen := v->'decision';
        END IF;
    END LOOP;
    RETURN chosen;
END $$;

-- The daemon's one statement: applies a batch of events in order, in the
-- caller's transaction. Each element is {"ev": EVENT, "rx": RECEIVED_AT,
-- "client": BRIDGE_CLIENT, "triage": DECISION or absent}. Returns one row
-- per element, in order; dup is true for an id already recorded, with the
-- first result; next_at is when the case's deadlines next need attention.
CREATE FUNCTION h111_apply(batch jsonb, p_default int)
RETURNS TABLE (idx int, case_id bigint, priority smallint, category text,
               rules text[], dup boolean, next_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    el jsonb;
    ev jsonb;
    n int;
    cid bigint;
    p_ts timestamptz;
BEGIN
    FOR el, n IN SELECT value, ordinality FROM jsonb_array_elements(batch) WITH ORDINALITY LOOP
        ev := el->'ev';
        idx := n;
        next_at := NULL;
        SELECT e.case_id, e.priority, e.category, e.rules
          INTO case_id, priority, category, rules
          FROM events e WHERE e.event_id = ev->>'id';
        IF FOUND THEN
            dup := true;
            RETURN NEXT;
            CONTINUE;
        END IF;
        p_ts := coalesce((ev->>'ts')::timestamptz, (el->>'rx')::timestamptz);
        IF ev ? 'ticket_id' THEN
            cid := h111_case_of_ticket(ev, p_ts, p_default);
        ELSE
            cid := h111_case_of_call(ev->>'call_id', p_ts, p_default);
        END IF;
        PERFORM h111_apply_fields(cid, ev, p_ts, 'bridge:' || coalesce(el->>'client', '-'));
        IF el ? 'triage' THEN
            PERFORM h111_apply_triage(cid, ev, h111_repeat_decision(cid, el->'triage'));
        END IF;
        PERFORM h111_apply_deadline_fields(cid, ev, p_ts);
        next_at := h111_rearm(cid);
        UPDATE cases c SET updated_at = now() WHERE c.id = cid
          RETURNING c.priority, c.category, c.rules INTO priority, category, rules;
        INSERT INTO events (event_id, type, ts, received_at, client, case_id, priority,
                            category, rules, body)
          VALUES (ev->>'id', ev->>'type', p_ts, (el->>'rx')::timestamptz, el->>'client', cid,
                  priority, category, rules, ev);
        -- consoles that tail hear of every change (LISTEN hotline111)
        PERFORM pg_notify('hotline111', jsonb_build_object('alert', 'case', 'case',
            (SELECT jsonb_build_object('ts', h111_time(now()),  -- 003_console.sql
                 'case', c.id, 'priority', c.priority,
                 'category', c.category, 'status', c.status, 'operator', c.operator,
                 'change', 'event', 'by', 'bridge:' || coalesce(el->>'client', '-'),
                 'event', ev->>'id') FROM cases c WHERE c.id = cid))::text);
        case_id := cid;
        dup := false;
        RETURN NEXT;
    END LOOP;
END $$;
