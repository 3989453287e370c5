-- Functions by job: deadlines. Each open case carries at most one timer per
-- deadline (answer, claim, act, plan). The intake transaction arms,
-- tightens and stops them as the case changes (h111_rearm), so a timer can
-- never disagree with its case. Firing claims due timers with FOR UPDATE
-- SKIP LOCKED and records each escalation in the same transaction, so two
-- daemons, or a daemon killed mid-fire, never escalate a deadline and level
-- twice nor skip one.

-- A working day: not a weekend day (ISO 1 Monday .. 7 Sunday), not a holiday.
CREATE OR REPLACE FUNCTION h111_working_day(d date, pol jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT (pol->'weekend' @> to_jsonb(extract(isodow FROM d)::int))
       AND NOT (pol->'holidays' @> to_jsonb(to_char(d, 'YYYY-MM-DD')))
$$;

-- start + n working days, in the hotline's time zone: the same time of day
-- on the n-th working day after; a clock started on a day off starts at the
-- beginning of the next working day.
CREATE OR REPLACE FUNCTION h111_add_working_days(start timestamptz, n int, pol jsonb)
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
CREATE OR REPLACE FUNCTION h111_due(start timestamptz, prio int, deadline text, pol jsonb)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN start IS NULL THEN NULL
        WHEN pol->'p'->(prio - 1)->deadline ? 'wd'
            THEN h111_add_working_days(start, (pol->'p'->(prio - 1)->deadline->>'wd')::int, pol)
        WHEN pol->'p'->(prio - 1)->deadline ? 's'
            THEN start + make_interval(secs => (pol->'p'->(prio - 1)->deadline->>'s')::double precision)
    END
$$;

-- Makes a case's timers match the case: arms what its state asks for,
-- moves a deadline earlier after a priority raise (counted from the
-- original start, never later than before), and stops what was met.
-- Returns the earliest moment any of its timers needs attention.
CREATE OR REPLACE FUNCTION h111_rearm(cid bigint) RETURNS timestamptz
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

CREATE OR REPLACE FUNCTION h111_fire(p_limit int)
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
        -- the deadline's own due time: the first level is due when the
        -- deadline is, whether or not a warning came first (next_at is the
        -- warning's moment until it fires); a later level when it was armed
        due := CASE WHEN t.level = 0 THEN t.due_at ELSE t.next_at END;
        -- a warning whose deadline has passed already says nothing new
        IF t.warn_at IS NOT NULL AND t.level = 0 AND t.due_at > fired THEN
            k := 'warning';
            lvl := 0;
            nxt := t.due_at;
            -- a warning names the deadline it warns of: its late_ms is
            -- negative, the time left
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
        -- its notifications commit with it, or neither does
        PERFORM h111_outbox_add(esc, c.id, lvl, record, fired);
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
CREATE OR REPLACE FUNCTION h111_ack(p_escalation bigint, p_actor text, p_peer text)
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
CREATE OR REPLACE FUNCTION h111_hold(cid bigint, p_hold boolean, p_reason text, p_actor text, p_peer text)
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
