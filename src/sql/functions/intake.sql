-- Functions by job: intake, the bridge's events into cases. h111_apply is
-- the daemon's one intake statement.

-- The case of a call, opened when the event names a call not seen yet
-- (PBXs deliver out of order).
CREATE OR REPLACE FUNCTION h111_case_of_call(p_call text, p_ts timestamptz, p_prio int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    SELECT id INTO cid FROM cases WHERE call_id = p_call;
    IF FOUND THEN
        RETURN cid;
    END IF;
    INSERT INTO cases (opened_at, priority, first_priority, call_id)
        VALUES (p_ts, p_prio, p_prio, p_call)
        ON CONFLICT (call_id) DO NOTHING RETURNING id INTO cid;
    IF cid IS NULL THEN     -- another daemon opened it in between
        SELECT id INTO cid FROM cases WHERE call_id = p_call;
    END IF;
    RETURN cid;
END $$;

-- The case of a ticket event, opened (with the ticket) when the ticket is
-- new; a ticket seen before its call learns the call now, unless the call
-- already has a case of its own. A new ticket.created's ticket is written
-- with its fields at once.
CREATE OR REPLACE FUNCTION h111_case_of_ticket(ev jsonb, p_ts timestamptz, p_prio int)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
    p_call text := ev->>'call_id';
    created boolean := ev->>'type' = 'ticket.created';
BEGIN
    SELECT case_id INTO cid FROM tickets WHERE ticket_id = ev->>'ticket_id';
    IF FOUND THEN
        IF p_call IS NOT NULL THEN
            UPDATE cases SET call_id = p_call WHERE id = cid AND call_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM cases WHERE call_id = p_call);
        END IF;
        IF created THEN
            UPDATE tickets SET operator = coalesce(ev->>'operator', operator),
                text = coalesce(ev->>'text', text), category = coalesce(ev->>'category', category)
              WHERE ticket_id = ev->>'ticket_id';
        END IF;
        RETURN cid;
    END IF;
    IF p_call IS NOT NULL THEN
        cid := h111_case_of_call(p_call, p_ts, p_prio);
    ELSE
        INSERT INTO cases (opened_at, priority, first_priority) VALUES (p_ts, p_prio, p_prio)
            RETURNING id INTO cid;
    END IF;
    INSERT INTO tickets (ticket_id, case_id, created_at, operator, text, category)
        VALUES (ev->>'ticket_id', cid, p_ts, CASE WHEN created THEN ev->>'operator' END,
                CASE WHEN created THEN ev->>'text' END, CASE WHEN created THEN ev->>'category' END);
    RETURN cid;
END $$;

-- What one event changes in the fields of its case, in one UPDATE: the
-- call's times and places, a ticket's fields, a referral and a plan (which
-- the deadlines read), and the reopening of a silent call that had closed
-- itself by a ticket. (A ticket.closed then closes the case: h111_close.)
-- Returns the case as it is now.
CREATE OR REPLACE FUNCTION h111_event_fields(cid bigint, ev jsonb, p_ts timestamptz)
RETURNS cases LANGUAGE plpgsql AS $$
DECLARE
    kind text := ev->>'type';
    -- a ticket (but its close) for a call that had closed itself as silent
    -- reopens it
    reopen boolean := kind IN ('ticket.created', 'ticket.updated');
    c cases;
BEGIN
    IF kind = 'call.offered' THEN
        UPDATE cases SET offered_at = coalesce(offered_at, p_ts),
            caller = coalesce(ev->>'caller', caller), line = coalesce(ev->>'line', line),
            queue = coalesce(ev->>'queue', queue),
            ivr = coalesce((SELECT string_agg(d, '' ORDER BY n)
                              FROM jsonb_array_elements_text(ev->'ivr') WITH ORDINALITY AS a(d, n)),
                           ivr),
            province = coalesce(ev->>'province', province),
            district = coalesce(ev->>'district', district), lang = coalesce(ev->>'lang', lang),
            updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSIF kind = 'call.answered' THEN
        UPDATE cases SET answered_at = coalesce(answered_at, p_ts),
            operator = coalesce(operator, ev->>'operator'), updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSIF kind = 'call.abandoned' THEN
        UPDATE cases SET abandoned_at = coalesce(abandoned_at, p_ts),
            wait_s = coalesce((ev->>'wait_s')::numeric, wait_s), updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSIF kind = 'call.transferred' THEN
        UPDATE cases SET transferred_to = ev->>'to', updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSIF kind = 'call.ended' THEN
        UPDATE cases SET ended_at = coalesce(ended_at, p_ts),
            duration_s = coalesce((ev->>'duration_s')::numeric, duration_s),
            end_cause = coalesce(ev->>'cause', end_cause), updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSIF kind LIKE 'ticket.%' THEN
        UPDATE cases SET category = coalesce(ev->>'category', category),
            category_by = CASE WHEN ev ? 'category' THEN 'operator' ELSE category_by END,
            operator = coalesce(operator, ev->>'operator'),
            child_age = coalesce((ev->>'child_age')::smallint, child_age),
            child_gender = coalesce(ev->>'child_gender', child_gender),
            province = coalesce(ev->>'province', province),
            district = coalesce(ev->>'district', district),
            tags = CASE WHEN ev ? 'tags' THEN ARRAY(SELECT DISTINCT unnest(tags ||
                ARRAY(SELECT jsonb_array_elements_text(ev->'tags')))) ELSE tags END,
            referred_at = CASE WHEN ev ? 'referred_to' OR ev->>'outcome' = 'referred'
                               THEN coalesce(referred_at, p_ts) ELSE referred_at END,
            plan_at = CASE WHEN ev->'tags' ? 'plan' THEN coalesce(plan_at, p_ts) ELSE plan_at END,
            status = CASE WHEN reopen AND closed_auto THEN 'open' ELSE status END,
            outcome = CASE WHEN reopen AND closed_auto THEN NULL ELSE outcome END,
            closed_at = CASE WHEN reopen AND closed_auto THEN NULL ELSE closed_at END,
            final_priority = CASE WHEN reopen AND closed_auto THEN NULL ELSE final_priority END,
            final_category = CASE WHEN reopen AND closed_auto THEN NULL ELSE final_category END,
            closed_auto = closed_auto AND NOT reopen,
            updated_at = now()
          WHERE id = cid RETURNING * INTO c;
    ELSE
        UPDATE cases SET updated_at = now() WHERE id = cid RETURNING * INTO c;
    END IF;
    RETURN c;
END $$;

-- Raise-only triage of case c (as it is now): the decision names a priority
-- floor, maybe a category, the rules that fired and why each fired
-- ({"RULE": "words matched"}); the case keeps the union of rules and tags.
-- A category an operator chose is never replaced by a rule's. The case's
-- first automatic decision (report --triage) is kept in the same UPDATE:
-- the rules' own verdicts, gathered from the priority the case opened at
-- until a decision has read the case's text (a ticket's, a note's), then
-- kept; a call's own decisions (its line, IVR, the caller's history) always
-- belong to it, even when the PBX sent the call after its ticket. Records
-- the decision in triage and returns the case after it.
CREATE OR REPLACE FUNCTION h111_decide(c cases, ev jsonb, t jsonb)
RETURNS cases LANGUAGE plpgsql AS $$
DECLARE
    new_prio smallint := least(c.priority, coalesce((t->>'priority')::smallint, c.priority));
    new_cat text := c.category;
    fired text[] := ARRAY(SELECT jsonb_array_elements_text(t->'rules'));
    is_first boolean := c.first_read_text IS NOT TRUE OR ev->>'type' LIKE 'call.%';
    done cases;
BEGIN
    IF t->>'category' IS NOT NULL AND c.category_by IS DISTINCT FROM 'operator' THEN
        new_cat := t->>'category';
    END IF;
    UPDATE cases SET priority = new_prio, category = new_cat,
        category_by = CASE WHEN new_cat IS DISTINCT FROM c.category THEN 'rule'
                           ELSE category_by END,
        rules = rules || ARRAY(SELECT r FROM unnest(fired) AS r WHERE r <> ALL (rules)),
        tags = tags || ARRAY(SELECT g FROM jsonb_array_elements_text(t->'tags') AS g
                             WHERE g <> ALL (tags)),
        first_priority = CASE WHEN is_first THEN least(coalesce(first_priority, priority),
                                                   (t->>'priority')::smallint)
                              ELSE first_priority END,
        first_category = CASE WHEN is_first THEN coalesce(t->>'category', first_category)
                              ELSE first_category END,
        first_rules = CASE WHEN is_first THEN coalesce(first_rules, '{}') ||
            ARRAY(SELECT r FROM unnest(fired) AS r WHERE r <> ALL (coalesce(first_rules, '{}')))
                           ELSE first_rules END,
        first_at = CASE WHEN is_first THEN now() ELSE first_at END,
        first_read_text = CASE WHEN is_first THEN coalesce(first_read_text, false) OR ev ? 'text'
                               ELSE first_read_text END
      WHERE id = c.id RETURNING * INTO done;
    -- the model's suggestion rides in why under "@model" (no rule name has an @)
    INSERT INTO triage (case_id, event_id, priority_before, priority_after,
        category_before, category_after, rules, why)
      VALUES (c.id, ev->>'id', c.priority, new_prio, c.category, new_cat, fired,
              nullif(coalesce(t->'why', '{}'::jsonb) || CASE WHEN jsonb_typeof(t->'model') = 'object'
                  THEN jsonb_build_object('@model', (t->'model') || jsonb_build_object('p',
                      round((t->'model'->>'p')::numeric, 2)))
                  ELSE '{}'::jsonb END, '{}'::jsonb));
    RETURN done;
END $$;

-- The same for a case by id (the console's notes and answers).
CREATE OR REPLACE FUNCTION h111_apply_triage(cid bigint, ev jsonb, t jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c cases;
BEGIN
    SELECT * INTO c FROM cases WHERE id = cid;
    PERFORM h111_decide(c, ev, t);
END $$;

-- A triage decision for a call may come with variants for repeat callers
-- (rules that look at the caller's earlier cases): the count is made here,
-- in the transaction that stores the event, and the variant it reaches wins.
CREATE OR REPLACE FUNCTION h111_repeat_decision(c cases, t jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    earlier int;
    chosen jsonb := t - 'repeat';
    v jsonb;
BEGIN
    IF NOT t ? 'repeat' THEN
        RETURN t;
    END IF;
    IF c.caller IS NULL THEN
        RETURN chosen;
    END IF;
    -- counted up to the highest threshold only: a caller with hundreds of
    -- calls (pranks, silent calls) costs no more than one with three
    SELECT count(*) INTO earlier FROM (
        SELECT 1 FROM cases x
         WHERE x.caller = c.caller AND x.id <> c.id AND x.opened_at < c.opened_at
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
-- per element, in order; dup is true for an id already recorded (before
-- or earlier in the batch), with the first result and no next_at; next_at
-- is when the case's deadlines next need attention after the batch.
--
-- Set-based where the result is the same as one event at a time
-- (tests/integration/test_intake_diff.py holds it to that, against
-- tests/data/intake_reference.sql): one query finds the ids already
-- recorded or repeated in the batch, and only those are looked up one by
-- one; an event costs one UPDATE of its case's fields (h111_event_fields),
-- plus one for a triage decision (h111_decide); the events rows go in with
-- one INSERT; deadlines are re-armed once per case at the end of the batch,
-- and at once after an event that closes the case, so that a timer the
-- close stops is stopped even when a later event of the batch reopens the
-- case (a policy with no deadline at a priority between two that have one
-- is the one case where one by one would differ: a timer that had
-- escalated and left the policy then came back would start over).
CREATE OR REPLACE FUNCTION h111_apply(batch jsonb, p_default int)
RETURNS TABLE (idx int, case_id bigint, priority smallint, category text,
               rules text[], dup boolean, next_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    el jsonb;
    ev jsonb;
    t jsonb;
    n int;
    eid text;
    kind text;
    by_whom text;
    cid bigint;
    p_ts timestamptz;
    c cases;
    shut boolean;      -- the event closed its case
    suspects text[];
    ev_rows events[] := '{}';
    -- the result rows, column by column (rules as array text)
    r_idx int[] := '{}';
    r_case bigint[] := '{}';
    r_prio smallint[] := '{}';
    r_cat text[] := '{}';
    r_rules text[] := '{}';
    r_dup boolean[] := '{}';
    dirty bigint[] := '{}';    -- cases to re-arm at the end, in order
    arm_case bigint[] := '{}'; -- each re-arm and its result, in order
    arm_at timestamptz[] := '{}';
BEGIN
    -- (The LATERAL ... LIMIT 1 keeps the plan a nested loop of index probes:
    -- a hash join planned while events was small would read all of it.)
    IF jsonb_array_length(batch) = 1 THEN
        suspects := ARRAY[batch->0->'ev'->>'id'];
    ELSE
        SELECT array_agg(s.id) INTO suspects
          FROM (SELECT x.value->'ev'->>'id' AS id, count(*) AS k
                  FROM jsonb_array_elements(batch) x GROUP BY 1) s
          LEFT JOIN LATERAL (SELECT true AS hit FROM events e WHERE e.event_id = s.id LIMIT 1) f
            ON true
         WHERE s.k > 1 OR f.hit;
    END IF;

    FOR el, n IN SELECT value, ordinality FROM jsonb_array_elements(batch) WITH ORDINALITY LOOP
        ev := el->'ev';
        eid := ev->>'id';
        IF eid = ANY (suspects) THEN
            IF cardinality(ev_rows) > 0 THEN  -- an earlier copy may be among them
                INSERT INTO events SELECT * FROM unnest(ev_rows);
                ev_rows := '{}';
            END IF;
            SELECT e.case_id, e.priority, e.category, e.rules INTO case_id, priority, category, rules
              FROM events e WHERE e.event_id = eid;
            IF FOUND THEN
                r_idx := r_idx || n;
                r_case := r_case || case_id;
                r_prio := r_prio || priority;
                r_cat := r_cat || category;
                r_rules := r_rules || rules::text;
                r_dup := r_dup || true;
                CONTINUE;
            END IF;
        END IF;
        kind := ev->>'type';
        p_ts := coalesce((ev->>'ts')::timestamptz, (el->>'rx')::timestamptz);
        by_whom := 'bridge:' || coalesce(el->>'client', '-');
        IF ev ? 'ticket_id' THEN
            cid := h111_case_of_ticket(ev, p_ts, p_default);
        ELSE
            cid := h111_case_of_call(ev->>'call_id', p_ts, p_default);
        END IF;
        IF kind IN ('ticket.updated', 'ticket.closed') AND ev ? 'text' THEN
            INSERT INTO notes (case_id, ticket_id, at, author, text)
                VALUES (cid, ev->>'ticket_id', p_ts, ev->>'operator', ev->>'text');
        END IF;
        c := h111_event_fields(cid, ev, p_ts);
        IF kind = 'ticket.closed' THEN
            c := h111_close(cid, ev->>'outcome', ev->>'referred_to', p_ts, false);
            INSERT INTO audit (actor, action, case_id, after)
                VALUES (by_whom, 'case.close', cid, jsonb_build_object('outcome', ev->>'outcome',
                    'referred_to', ev->>'referred_to', 'event', eid));
        ELSIF kind LIKE 'ticket.%' AND jsonb_typeof(ev->'answers') = 'object' THEN
            -- checked by the daemon against the rules' questions before it came
            PERFORM h111_record_answers(cid, ev->'answers', by_whom, NULL, eid, p_ts);
        END IF;
        IF el ? 'triage' THEN
            c := h111_decide(c, ev, h111_repeat_decision(c, el->'triage'));
        END IF;
        shut := kind = 'ticket.closed';
        -- a silent P4 call closes itself when it ends with no ticket
        IF kind = 'call.ended' AND c.status = 'open' AND c.priority = 4
           AND NOT EXISTS (SELECT 1 FROM tickets tk WHERE tk.case_id = cid) THEN
            c := h111_close(cid, 'no_action', NULL, p_ts, true);
            shut := true;
        END IF;
        IF shut THEN
            arm_case := arm_case || cid;
            arm_at := arm_at || h111_rearm(cid);
            dirty := array_remove(dirty, cid);
        ELSE
            dirty := dirty || cid;
        END IF;
        ev_rows := ev_rows || ROW(eid, kind, p_ts, (el->>'rx')::timestamptz, now(),
                                  el->>'client', cid, c.priority, c.category, c.rules, ev)::events;
        -- consoles that tail hear of every change (LISTEN hotline111)
        PERFORM pg_notify('hotline111', jsonb_build_object('alert', 'case', 'case',
            h111_case_brief(c, 'event', by_whom) || jsonb_build_object('event', eid))::text);
        r_idx := r_idx || n;
        r_case := r_case || cid;
        r_prio := r_prio || c.priority::smallint;
        r_cat := r_cat || c.category;
        r_rules := r_rules || c.rules::text;
        r_dup := r_dup || false;
    END LOOP;

    IF cardinality(ev_rows) > 0 THEN
        INSERT INTO events SELECT * FROM unnest(ev_rows);
    END IF;
    FOR cid IN SELECT u.c FROM unnest(dirty) WITH ORDINALITY AS u(c, o)
                GROUP BY u.c ORDER BY max(u.o) LOOP
        arm_case := arm_case || cid;
        arm_at := arm_at || h111_rearm(cid);
    END LOOP;
    RETURN QUERY
        SELECT r.i, r.c, r.p, r.cat, r.ru::text[], r.d, CASE WHEN NOT r.d THEN a.at END
          FROM unnest(r_idx, r_case, r_prio, r_cat, r_rules, r_dup) AS r(i, c, p, cat, ru, d)
          LEFT JOIN (SELECT DISTINCT ON (x.c) x.c, x.at
                       FROM unnest(arm_case, arm_at) WITH ORDINALITY AS x(c, at, o)
                      ORDER BY x.c, x.o DESC) a ON a.c = r.c
         ORDER BY r.i;
END $$;
