-- tests/data/intake_reference.sql: h111_apply one event at a time, as it
-- was before the set-based version (src/sql/functions/*.sql at 3f4bdf8),
-- kept only as the reference of the differential test
-- (tests/integration/test_intake_diff.py, tests/bench/difftest.sh). Loaded
-- over a migrated database, it replaces h111_apply; its helpers are the old
-- ones under h111_ref_ names, so that it shares with today's functions only
-- what the set-based version calls too (h111_case_of_call, h111_close,
-- h111_rearm, h111_record_answers, h111_case_brief). Not part of the daemon:
-- a daemon started on such a database would drop the h111_ref_ functions.

CREATE OR REPLACE FUNCTION h111_ref_case_of_ticket(ev jsonb, p_ts timestamptz, p_prio int)
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
        INSERT INTO cases (opened_at, priority, first_priority) VALUES (p_ts, p_prio, p_prio)
            RETURNING id INTO cid;
    END IF;
    INSERT INTO tickets (ticket_id, case_id, created_at) VALUES (ev->>'ticket_id', cid, p_ts);
    RETURN cid;
END $$;

CREATE OR REPLACE FUNCTION h111_ref_ivr_text(ivr jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(d, '' ORDER BY n)
      FROM jsonb_array_elements_text(ivr) WITH ORDINALITY AS t(d, n)
$$;

-- What one event changes in its case.
CREATE OR REPLACE FUNCTION h111_ref_apply_fields(cid bigint, ev jsonb, p_ts timestamptz, actor text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind text := ev->>'type';
BEGIN
    IF kind = 'call.offered' THEN
        UPDATE cases SET offered_at = coalesce(offered_at, p_ts),
            caller = coalesce(ev->>'caller', caller), line = coalesce(ev->>'line', line),
            queue = coalesce(ev->>'queue', queue),
            ivr = coalesce(h111_ref_ivr_text(ev->'ivr'), ivr),
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
        PERFORM h111_ref_apply_ticket(cid, ev, p_ts);
        -- checked by the daemon against the rules' questions before it came
        IF jsonb_typeof(ev->'answers') = 'object' THEN
            PERFORM h111_record_answers(cid, ev->'answers', actor, NULL, ev->>'id', p_ts);
        END IF;
    ELSIF kind = 'ticket.closed' THEN
        PERFORM h111_ref_apply_ticket(cid, ev, p_ts);
        PERFORM h111_close(cid, ev->>'outcome', ev->>'referred_to', p_ts, false);
        INSERT INTO audit (actor, action, case_id, after)
            VALUES (actor, 'case.close', cid, jsonb_build_object('outcome', ev->>'outcome',
                'referred_to', ev->>'referred_to', 'event', ev->>'id'));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION h111_ref_apply_ticket(cid bigint, ev jsonb, p_ts timestamptz)
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

-- Raise-only triage: the decision names a priority floor, maybe a category,
-- the rules that fired and why each fired ({"RULE": "words matched"}); the case keeps the union of rules and tags. A
-- category an operator chose is never replaced by a rule's.
CREATE OR REPLACE FUNCTION h111_ref_apply_triage(cid bigint, ev jsonb, t jsonb)
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
    -- the model's suggestion rides in why under "@model" (no rule name has an @)
    INSERT INTO triage (case_id, event_id, priority_before, priority_after,
        category_before, category_after, rules, why)
      VALUES (cid, ev->>'id', c.priority, new_prio, c.category, new_cat, fired,
              nullif(coalesce(t->'why', '{}'::jsonb) || CASE WHEN jsonb_typeof(t->'model') = 'object'
                  THEN jsonb_build_object('@model', (t->'model') || jsonb_build_object('p',
                      round((t->'model'->>'p')::numeric, 2)))
                  ELSE '{}'::jsonb END, '{}'::jsonb));
    PERFORM h111_ref_first_decision(c, ev, t, fired);
END $$;

-- The case's first automatic decision (report --triage): the rules' own
-- verdicts, gathered from the priority the case opened at until a decision
-- has read the case's text (a ticket's, a note's), then kept. A call's own
-- decisions (its line, IVR, the caller's history) always belong to it, even
-- when the PBX sent the call after its ticket.
CREATE OR REPLACE FUNCTION h111_ref_first_decision(c cases, ev jsonb, t jsonb, fired text[])
RETURNS void LANGUAGE sql AS $$
    UPDATE cases SET
        first_priority = least(coalesce(c.first_priority, c.priority),
                               (t->>'priority')::smallint),
        first_category = coalesce(t->>'category', c.first_category),
        first_rules = coalesce(c.first_rules, '{}') ||
            ARRAY(SELECT r FROM unnest(fired) AS r
                   WHERE r <> ALL (coalesce(c.first_rules, '{}'))),
        first_at = now(),
        first_read_text = coalesce(c.first_read_text, false) OR ev ? 'text'
     WHERE id = c.id
       AND (c.first_read_text IS NOT TRUE OR ev->>'type' LIKE 'call.%')
$$;

-- A triage decision for a call may come with variants for repeat callers
-- (rules that look at the caller's earlier cases): the count is made here,
-- in the transaction that stores the event, and the variant it reaches wins.
CREATE OR REPLACE FUNCTION h111_ref_repeat_decision(cid bigint, t jsonb) RETURNS jsonb
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

-- Referral, plan, the silent P4 call that closes itself: what events mean
-- for the deadlines, on top of version 1's fields.
CREATE OR REPLACE FUNCTION h111_ref_apply_deadline_fields(cid bigint, ev jsonb, p_ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind text := ev->>'type';
BEGIN
    IF kind LIKE 'ticket.%' THEN
        -- (a ticket.closed has recorded its referral in h111_close)
        IF ev ? 'referred_to' OR ev->>'outcome' = 'referred' THEN
            UPDATE cases SET referred_at = coalesce(referred_at, p_ts) WHERE id = cid;
        END IF;
        IF ev->'tags' ? 'plan' THEN
            UPDATE cases SET plan_at = coalesce(plan_at, p_ts) WHERE id = cid;
        END IF;
        -- a ticket for a call that had closed itself as silent reopens it
        IF kind <> 'ticket.closed' THEN
            PERFORM h111_ref_reopen_auto(cid);
        END IF;
    ELSIF kind = 'call.ended' THEN
        IF EXISTS (SELECT 1 FROM cases WHERE id = cid AND status = 'open' AND priority = 4)
           AND NOT EXISTS (SELECT 1 FROM tickets WHERE tickets.case_id = cid) THEN
            PERFORM h111_close(cid, 'no_action', NULL, p_ts, true);
        END IF;
    END IF;
END $$;

-- A ticket for a call that had closed itself as silent reopens it.
CREATE OR REPLACE FUNCTION h111_ref_reopen_auto(cid bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE cases SET status = 'open', outcome = NULL, closed_at = NULL, closed_auto = false,
        final_priority = NULL, final_category = NULL
     WHERE id = cid AND closed_auto
$$;

-- The daemon's one statement: applies a batch of events in order, in the
-- caller's transaction. Each element is {"ev": EVENT, "rx": RECEIVED_AT,
-- "client": BRIDGE_CLIENT, "triage": DECISION or absent}. Returns one row
-- per element, in order; dup is true for an id already recorded, with the
-- first result; next_at is when the case's deadlines next need attention.
CREATE OR REPLACE FUNCTION h111_apply(batch jsonb, p_default int)
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
            cid := h111_ref_case_of_ticket(ev, p_ts, p_default);
        ELSE
            cid := h111_case_of_call(ev->>'call_id', p_ts, p_default);
        END IF;
        PERFORM h111_ref_apply_fields(cid, ev, p_ts, 'bridge:' || coalesce(el->>'client', '-'));
        IF el ? 'triage' THEN
            PERFORM h111_ref_apply_triage(cid, ev, h111_ref_repeat_decision(cid, el->'triage'));
        END IF;
        PERFORM h111_ref_apply_deadline_fields(cid, ev, p_ts);
        next_at := h111_rearm(cid);
        UPDATE cases c SET updated_at = now() WHERE c.id = cid
          RETURNING c.priority, c.category, c.rules INTO priority, category, rules;
        INSERT INTO events (event_id, type, ts, received_at, client, case_id, priority,
                            category, rules, body)
          VALUES (ev->>'id', ev->>'type', p_ts, (el->>'rx')::timestamptz, el->>'client', cid,
                  priority, category, rules, ev);
        -- consoles that tail hear of every change (LISTEN hotline111)
        PERFORM pg_notify('hotline111', jsonb_build_object('alert', 'case', 'case',
            (SELECT h111_case_brief(c, 'event', 'bridge:' || coalesce(el->>'client', '-'))
                    || jsonb_build_object('event', ev->>'id') FROM cases c WHERE c.id = cid))::text);
        case_id := cid;
        dup := false;
        RETURN NEXT;
    END LOOP;
END $$;
