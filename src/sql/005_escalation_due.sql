-- hotline111 schema, version 5: an escalation record carries its deadline's
-- own due time, and late_ms is counted from it. Version 2's h111_fire gave
-- the timer's next moment instead, which is the warning's moment until the
-- warning fires: a warning named the wrong deadline, and a first escalation
-- whose warning was skipped (it fired late, after an outage) counted its
-- lateness from the warning.

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
