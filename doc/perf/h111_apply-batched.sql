-- h111_apply, proposal (on top of migrations 001-003 as of 7d25db8): the same results and the same tables as the current
-- version, with far fewer statements per event.
--
--   1. One query finds the ids of the batch already recorded, or repeated
--      within it; only those take the exact one-by-one path (a batch of one
--      is checked that way without the query).
--   2. The case: ONE UPDATE per event for the event's own fields (what
--      h111_apply_fields, h111_apply_ticket, the close, the deadline fields
--      and updated_at did in two to six), plus one UPDATE for a triage
--      decision, which starts from the row the first returns (no SELECT).
--   3. A new ticket is inserted with its fields (no INSERT then UPDATE).
--   4. Event, triage and note rows are collected and written with one
--      INSERT per table at the end of the batch.
--   5. Deadlines are re-armed once per case, at the end of the batch, in
--      the order of each case's last event (h111_rearm, unchanged): the
--      timers left are the same, without those a later event of the same
--      batch stops or moves again. Each row's next_at is its case's after
--      the batch (the daemon only needs the earliest moment to look).
--   6. The console notification is built from the values the UPDATEs
--      return (no extra SELECT); IVR digits are joined inline (the SQL
--      function h111_ivr_text was parsed and planned again at every call).
CREATE TYPE h111_apply_row AS (idx int, case_id bigint, priority smallint, category text,
                               rules text[], dup boolean);

CREATE OR REPLACE FUNCTION h111_apply(batch jsonb, p_default int)
RETURNS TABLE (idx int, case_id bigint, priority smallint, category text,
               rules text[], dup boolean, next_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    el jsonb;
    ev jsonb;
    t jsonb;
    n int;
    cid bigint;
    p_ts timestamptz;
    kind text;
    eid text;
    p_call text;
    p_ticket text;
    has_ticket boolean;
    ticket_new boolean;
    closing boolean;
    by_whom text;
    v_ivr text;
    v_cat text;
    v_fired text[];
    c_by text;
    c_status text;
    c_operator text;
    p_before smallint;
    c_before text;
    suspects text[];
    ev_rows events[] := '{}';
    tr_rows triage[] := '{}';
    nt_rows notes[] := '{}';
    res h111_apply_row[] := '{}';
    touched bigint[] := '{}';
    rc bigint[] := '{}';
    ra timestamptz[] := '{}';
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
        IF suspects IS NOT NULL AND eid = ANY (suspects) THEN
            IF cardinality(ev_rows) > 0 THEN
                INSERT INTO events SELECT * FROM unnest(ev_rows);
                ev_rows := '{}';
            END IF;
            SELECT e.case_id, e.priority, e.category, e.rules
              INTO case_id, priority, category, rules
              FROM events e WHERE e.event_id = eid;
            IF FOUND THEN
                res := res || ROW(n, case_id, priority, category, rules, true)::h111_apply_row;
                CONTINUE;
            END IF;
        END IF;
        kind := ev->>'type';
        p_ts := coalesce((ev->>'ts')::timestamptz, (el->>'rx')::timestamptz);
        p_call := ev->>'call_id';
        has_ticket := ev ? 'ticket_id';
        ticket_new := false;
        by_whom := 'bridge:' || coalesce(el->>'client', '-');

        -- The case (h111_case_of_ticket, h111_case_of_call).
        IF has_ticket THEN
            p_ticket := ev->>'ticket_id';
            SELECT tk.case_id INTO cid FROM tickets tk WHERE tk.ticket_id = p_ticket;
            IF FOUND THEN
                IF p_call IS NOT NULL THEN
                    UPDATE cases c SET call_id = p_call WHERE c.id = cid AND c.call_id IS NULL
                        AND NOT EXISTS (SELECT 1 FROM cases c2 WHERE c2.call_id = p_call);
                END IF;
            ELSE
                IF p_call IS NOT NULL THEN
                    cid := h111_case_of_call(p_call, p_ts, p_default);
                ELSE
                    INSERT INTO cases (opened_at, priority) VALUES (p_ts, p_default)
                        RETURNING id INTO cid;
                END IF;
                IF kind = 'ticket.created' THEN
                    INSERT INTO tickets (ticket_id, case_id, created_at, operator, text, category)
                        VALUES (p_ticket, cid, p_ts, ev->>'operator', ev->>'text', ev->>'category');
                ELSE
                    INSERT INTO tickets (ticket_id, case_id, created_at)
                        VALUES (p_ticket, cid, p_ts);
                END IF;
                ticket_new := true;
            END IF;
        ELSE
            cid := h111_case_of_call(p_call, p_ts, p_default);
        END IF;

        -- Other rows of the event (h111_apply_ticket).
        IF kind = 'ticket.created' THEN
            IF NOT ticket_new THEN
                UPDATE tickets tk SET operator = coalesce(ev->>'operator', tk.operator),
                    text = coalesce(ev->>'text', tk.text),
                    category = coalesce(ev->>'category', tk.category)
                  WHERE tk.ticket_id = p_ticket;
            END IF;
        ELSIF kind IN ('ticket.updated', 'ticket.closed') AND ev ? 'text' THEN
            nt_rows := nt_rows || ROW(NULL, cid, p_ticket, p_ts, ev->>'operator', ev->>'text')::notes;
        END IF;

        -- The case's fields: h111_apply_fields, h111_apply_ticket, the close,
        -- h111_apply_deadline_fields (but the silent-call close, below, which
        -- comes after triage) and updated_at, in one statement.
        IF kind = 'call.offered' THEN
            v_ivr := NULL;
            IF ev ? 'ivr' THEN
                v_ivr := (SELECT string_agg(d, '' ORDER BY o)
                            FROM jsonb_array_elements_text(ev->'ivr') WITH ORDINALITY AS a(d, o));
            END IF;
            UPDATE cases c SET offered_at = coalesce(c.offered_at, p_ts),
                caller = coalesce(ev->>'caller', c.caller), line = coalesce(ev->>'line', c.line),
                queue = coalesce(ev->>'queue', c.queue), ivr = coalesce(v_ivr, c.ivr),
                province = coalesce(ev->>'province', c.province),
                district = coalesce(ev->>'district', c.district), lang = coalesce(ev->>'lang', c.lang),
                updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        ELSIF kind = 'call.answered' THEN
            UPDATE cases c SET answered_at = coalesce(c.answered_at, p_ts),
                operator = coalesce(c.operator, ev->>'operator'), updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        ELSIF kind = 'call.abandoned' THEN
            UPDATE cases c SET abandoned_at = coalesce(c.abandoned_at, p_ts),
                wait_s = coalesce((ev->>'wait_s')::numeric, c.wait_s), updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        ELSIF kind = 'call.transferred' THEN
            UPDATE cases c SET transferred_to = ev->>'to', updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        ELSIF kind = 'call.ended' THEN
            UPDATE cases c SET ended_at = coalesce(c.ended_at, p_ts),
                duration_s = coalesce((ev->>'duration_s')::numeric, c.duration_s),
                end_cause = coalesce(ev->>'cause', c.end_cause), updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        ELSIF kind IN ('ticket.created', 'ticket.updated', 'ticket.closed') THEN
            closing := kind = 'ticket.closed';
            UPDATE cases c SET category = coalesce(ev->>'category', c.category),
                category_by = CASE WHEN ev ? 'category' THEN 'operator' ELSE c.category_by END,
                operator = coalesce(c.operator, ev->>'operator'),
                child_age = coalesce((ev->>'child_age')::smallint, c.child_age),
                child_gender = coalesce(ev->>'child_gender', c.child_gender),
                province = coalesce(ev->>'province', c.province),
                district = coalesce(ev->>'district', c.district),
                tags = CASE WHEN ev ? 'tags' THEN ARRAY(SELECT DISTINCT unnest(c.tags ||
                    ARRAY(SELECT jsonb_array_elements_text(ev->'tags')))) ELSE c.tags END,
                -- the close; a ticket for a call that had closed itself as
                -- silent reopens it
                status = CASE WHEN closing THEN 'closed' WHEN c.closed_auto THEN 'open'
                              ELSE c.status END,
                outcome = CASE WHEN closing THEN ev->>'outcome' WHEN c.closed_auto THEN NULL
                               ELSE c.outcome END,
                referred_to = CASE WHEN closing THEN coalesce(ev->>'referred_to', c.referred_to)
                                   ELSE c.referred_to END,
                closed_at = CASE WHEN closing THEN coalesce(c.closed_at, p_ts)
                                 WHEN c.closed_auto THEN NULL ELSE c.closed_at END,
                closed_auto = c.closed_auto AND closing,
                referred_at = CASE WHEN ev ? 'referred_to' OR ev->>'outcome' = 'referred'
                                   THEN coalesce(c.referred_at, p_ts) ELSE c.referred_at END,
                plan_at = CASE WHEN ev->'tags' ? 'plan' THEN coalesce(c.plan_at, p_ts)
                               ELSE c.plan_at END,
                updated_at = now()
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
            IF closing THEN
                INSERT INTO audit (actor, action, case_id, after)
                    VALUES (by_whom, 'case.close', cid, jsonb_build_object('outcome',
                        ev->>'outcome', 'referred_to', ev->>'referred_to', 'event', eid));
            END IF;
        ELSE
            UPDATE cases c SET updated_at = now() WHERE c.id = cid
              RETURNING c.priority, c.category, c.category_by, c.rules, c.status, c.operator
                   INTO priority, category, c_by, rules, c_status, c_operator;
        END IF;

        -- Triage (h111_apply_triage) on the row as it is now.
        t := el->'triage';
        IF t IS NOT NULL THEN
            t := h111_repeat_decision(cid, t);
            p_before := priority;
            c_before := category;
            v_fired := ARRAY(SELECT jsonb_array_elements_text(t->'rules'));
            v_cat := CASE WHEN c_by IS DISTINCT FROM 'operator'
                          THEN coalesce(t->>'category', category) ELSE category END;
            UPDATE cases c SET priority = least(c.priority, coalesce((t->>'priority')::smallint, c.priority)),
                category = v_cat,
                category_by = CASE WHEN v_cat IS DISTINCT FROM c_before THEN 'rule'
                                   ELSE c.category_by END,
                rules = c.rules || ARRAY(SELECT r FROM unnest(v_fired) AS r WHERE r <> ALL (c.rules)),
                tags = c.tags || ARRAY(SELECT g FROM jsonb_array_elements_text(t->'tags') AS g
                                       WHERE g <> ALL (c.tags))
              WHERE c.id = cid
              RETURNING c.priority, c.category, c.rules INTO priority, category, rules;
            tr_rows := tr_rows || ROW(NULL, cid, eid, now(), p_before, priority, c_before,
                                      category, v_fired)::triage;
        END IF;

        -- A silent P4 call closes itself when it ends with no ticket
        -- (h111_apply_deadline_fields).
        IF kind = 'call.ended' AND c_status = 'open' AND priority = 4 THEN
            UPDATE cases c SET status = 'closed', outcome = 'no_action', closed_at = p_ts,
                closed_auto = true
             WHERE c.id = cid AND c.status = 'open' AND c.priority = 4
               AND NOT EXISTS (SELECT 1 FROM tickets WHERE tickets.case_id = cid);
            IF FOUND THEN
                c_status := 'closed';
            END IF;
        END IF;

        ev_rows := ev_rows || ROW(eid, kind, p_ts, (el->>'rx')::timestamptz, now(),
                                  el->>'client', cid, priority, category, rules, ev)::events;
        -- consoles that tail hear of every change (LISTEN hotline111)
        PERFORM pg_notify('hotline111', jsonb_build_object('alert', 'case', 'case',
            jsonb_build_object('case', cid, 'priority', priority, 'category', category,
                'status', c_status, 'operator', c_operator, 'change', 'event', 'by', by_whom,
                'event', eid))::text);
        touched := touched || cid;
        res := res || ROW(n, cid, priority, category, rules, false)::h111_apply_row;
    END LOOP;

    IF cardinality(ev_rows) > 0 THEN
        INSERT INTO events SELECT * FROM unnest(ev_rows);
    END IF;
    IF cardinality(tr_rows) > 0 THEN
        INSERT INTO triage (case_id, event_id, at, priority_before, priority_after,
                            category_before, category_after, rules)
            SELECT r.case_id, r.event_id, r.at, r.priority_before, r.priority_after,
                   r.category_before, r.category_after, r.rules FROM unnest(tr_rows) r;
    END IF;
    IF cardinality(nt_rows) > 0 THEN
        INSERT INTO notes (case_id, ticket_id, at, author, text)
            SELECT r.case_id, r.ticket_id, r.at, r.author, r.text FROM unnest(nt_rows) r;
    END IF;
    -- the deadlines, once per case, in the order of each case's last event
    FOR cid IN SELECT u.c FROM unnest(touched) WITH ORDINALITY AS u(c, o)
                GROUP BY u.c ORDER BY max(u.o) LOOP
        rc := rc || cid;
        ra := ra || h111_rearm(cid);
    END LOOP;
    RETURN QUERY SELECT r.idx, r.case_id, r.priority, r.category, r.rules, r.dup,
                        CASE WHEN NOT r.dup THEN x.at END
                   FROM unnest(res) AS r LEFT JOIN unnest(rc, ra) AS x(c, at) ON x.c = r.case_id
                  ORDER BY r.idx;
END $$;
