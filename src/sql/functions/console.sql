-- Functions by job: console, one function per console command, each
-- returning jsonb. Refusals are errors with SQLSTATEs of our own, which the
-- daemon maps onto the console protocol's codes: H1400 bad_request, H1403
-- not_permitted, H1404 not_found, H1409 conflict. Every change writes an
-- audit row and is published with NOTIFY on channel hotline111, so every
-- console of every daemon on this database sees it.

-- The case's most pressing deadline, overdue ones first (left_s < 0).
CREATE OR REPLACE FUNCTION h111_next_deadline(cid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('deadline', t.deadline, 'due', h111_time(t.due_at),
        'left_s', floor(extract(epoch FROM t.due_at - now()))::bigint, 'held', t.held)
      FROM timers t WHERE t.case_id = cid
     ORDER BY t.held, t.due_at LIMIT 1
$$;

-- The queue, each filter NULL when not asked for: p_operator and
-- p_category take 'none' for no owner, no category; p_questions, the
-- running rules' key question ids (a JSON array, from the daemon), keeps
-- the P1 and P2 cases that have not answered one of them (the queue's
-- ASK mark).
CREATE OR REPLACE FUNCTION h111_console_queue(p_priority int, p_operator text,
                                              p_province text DEFAULT NULL,
                                              p_category text DEFAULT NULL,
                                              p_questions jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('cases', coalesce(jsonb_agg(row ORDER BY ord), '[]'))
      FROM (SELECT jsonb_build_object(
                'case', c.id, 'priority', c.priority, 'category', c.category,
                'status', c.status, 'opened_at', h111_time(c.opened_at),
                'age_s', floor(extract(epoch FROM now() - c.opened_at))::bigint,
                'operator', c.operator, 'held', c.held_at IS NOT NULL,
                'next', h111_next_deadline(c.id),
                'escalations', (SELECT count(*) FROM escalations e
                                 WHERE e.case_id = c.id AND e.acked_at IS NULL
                                   AND e.kind = 'escalation'),
                'rules', to_jsonb(c.rules), 'province', c.province,
                'caller', c.caller,  -- masked by the daemon
                -- the daemon turns this into the key questions unanswered
                'answered', (SELECT coalesce(jsonb_agg(DISTINCT a.question), '[]')
                               FROM answers a WHERE a.case_id = c.id)) AS row,
                   row_number() OVER (ORDER BY c.priority,
                       (SELECT min(t.due_at) FROM timers t WHERE t.case_id = c.id
                           AND NOT t.held) NULLS LAST, c.opened_at) AS ord
              FROM cases c
             WHERE c.status = 'open'
               AND (p_priority IS NULL OR c.priority = p_priority)
               AND (p_operator IS NULL OR c.operator IS NOT DISTINCT FROM nullif(p_operator, 'none'))
               AND (p_province IS NULL OR lower(c.province) = lower(p_province))
               AND (p_category IS NULL OR c.category IS NOT DISTINCT FROM nullif(p_category, 'none'))
               AND (p_questions IS NULL OR (c.priority <= 2 AND EXISTS (
                       SELECT 1 FROM jsonb_array_elements_text(p_questions) q(id)
                        WHERE NOT EXISTS (SELECT 1 FROM answers a
                                           WHERE a.case_id = c.id AND a.question = q.id))))
             ORDER BY ord LIMIT 500) q
$$;

CREATE OR REPLACE FUNCTION h111_console_show(cid bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c cases;
BEGIN
    c := h111_case(cid);
    RETURN jsonb_build_object(
        'case', jsonb_build_object('id', c.id, 'status', c.status, 'priority', c.priority,
            'category', c.category, 'rules', to_jsonb(c.rules), 'tags', to_jsonb(c.tags),
            'caller', c.caller, 'line', c.line, 'queue', c.queue, 'ivr', c.ivr,
            'province', c.province, 'district', c.district, 'child_age', c.child_age,
            'child_gender', c.child_gender, 'operator', c.operator,
            'opened_at', h111_time(c.opened_at), 'offered_at', h111_time(c.offered_at),
            'answered_at', h111_time(c.answered_at), 'abandoned_at', h111_time(c.abandoned_at),
            'ended_at', h111_time(c.ended_at), 'outcome', c.outcome,
            'referred_to', c.referred_to, 'closed_at', h111_time(c.closed_at),
            'held_at', h111_time(c.held_at)),
        'tickets', (SELECT coalesce(jsonb_agg(jsonb_build_object('ticket_id', ticket_id,
            'created_at', h111_time(created_at), 'operator', operator, 'text', text,
            'category', category) ORDER BY created_at), '[]') FROM tickets WHERE case_id = cid),
        'notes', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', h111_time(at),
            'author', author, 'text', text) ORDER BY id), '[]') FROM notes WHERE case_id = cid),
        'events', (SELECT coalesce(jsonb_agg(jsonb_build_object('event_id', event_id,
            'type', type, 'ts', h111_time(ts)) ORDER BY ts, stored_at), '[]')
            FROM events WHERE case_id = cid),
        'triage', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', h111_time(at),
            'event_id', event_id, 'priority_before', priority_before,
            'priority_after', priority_after, 'category_after', category_after,
            'rules', to_jsonb(rules), 'why', coalesce(why, '{}'))
            ORDER BY id), '[]') FROM triage WHERE case_id = cid),
        'timers', (SELECT coalesce(jsonb_agg(jsonb_build_object('deadline', deadline,
            'due', h111_time(due_at), 'level', level, 'next', h111_time(next_at), 'held', held)
            ORDER BY due_at), '[]') FROM timers WHERE case_id = cid),
        'escalations', (SELECT coalesce(jsonb_agg(jsonb_build_object('escalation', id,
            'deadline', deadline, 'kind', kind, 'level', level, 'due', h111_time(due_at),
            'fired_at', h111_time(fired_at), 'late_ms', late_ms,
            'acked_at', h111_time(acked_at), 'acked_by', acked_by) ORDER BY id), '[]')
            FROM escalations WHERE case_id = cid),
        'notifications', h111_outbox_of(cid),
        -- the latest answer to each key question, in the order given; the
        -- daemon adds the questions still unanswered
        'answers', (SELECT coalesce(jsonb_agg(jsonb_build_object('question', question,
            'answer', answer, 'by', given_by, 'at', h111_time(at)) ORDER BY id), '[]')
            FROM (SELECT DISTINCT ON (question) * FROM answers WHERE case_id = cid
                   ORDER BY question, id DESC) a));
END $$;

-- The case's answers so far, for hotline111 assess to ask the questions
-- (the daemon adds them, from the rules).
CREATE OR REPLACE FUNCTION h111_console_questions(cid bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c cases;
BEGIN
    c := h111_case(cid);
    RETURN jsonb_build_object('case', c.id, 'status', c.status, 'priority', c.priority,
        'category', c.category, 'answers', h111_answers_of(cid));
END $$;

-- Answers given at the console (checked by the daemon against the rules'
-- questions), then the case triaged again on its text and all its answers
-- (the daemon evaluated the rules: decision is as in h111_apply_triage),
-- raise-only; the deadlines follow a raise as after any triage.
CREATE OR REPLACE FUNCTION h111_console_assess(cid bigint, p_answers jsonb, decision jsonb,
                                               actor text, peer text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
    mark bigint;
BEGIN
    IF c.status <> 'open' THEN
        RAISE EXCEPTION 'case % is closed', cid USING ERRCODE = 'H1409';
    END IF;
    PERFORM h111_record_answers(cid, p_answers, 'console:' || actor, peer, NULL, now());
    IF decision IS NOT NULL THEN
        SELECT max(id) INTO mark FROM answers WHERE case_id = cid;
        PERFORM h111_apply_triage(cid, jsonb_build_object('id', 'console-answers-' || mark),
                                  decision);
    END IF;
    PERFORM h111_rearm(cid);
    UPDATE cases SET updated_at = now() WHERE id = cid RETURNING * INTO c;
    PERFORM h111_publish(c, 'answers', actor);
    RETURN jsonb_build_object('case', cid, 'priority', c.priority, 'category', c.category,
        'rules', to_jsonb(c.rules), 'answers', h111_answers_of(cid));
END $$;

-- claim (owner = actor) and release (owner = NULL).
CREATE OR REPLACE FUNCTION h111_console_own(cid bigint, p_claim boolean, actor text, peer text,
                                 supervisor boolean) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
    prev text := c.operator;
    owner text := CASE WHEN p_claim THEN actor END;
BEGIN
    IF c.status <> 'open' THEN
        RAISE EXCEPTION 'case % is closed', cid USING ERRCODE = 'H1409';
    END IF;
    IF c.operator IS NOT NULL AND c.operator <> actor AND NOT supervisor THEN
        RAISE EXCEPTION 'case % belongs to %', cid, c.operator USING ERRCODE = 'H1409';
    END IF;
    UPDATE cases SET operator = owner, updated_at = now() WHERE id = cid RETURNING * INTO c;
    PERFORM h111_rearm(cid);
    PERFORM h111_audit(actor, peer, CASE WHEN p_claim THEN 'case.claim' ELSE 'case.release' END,
        cid, jsonb_build_object('operator', prev), jsonb_build_object('operator', owner));
    PERFORM h111_publish(c, CASE WHEN p_claim THEN 'claim' ELSE 'release' END, actor);
    PERFORM h111_tell_owners(c, CASE WHEN p_claim THEN 'claim' ELSE 'release' END, actor, prev);
    RETURN jsonb_build_object('case', cid, 'operator', owner);
END $$;

-- A supervisor gives an open case to an operator (the daemon checked the
-- name against console.operators); the owner it had, if any, is told.
CREATE OR REPLACE FUNCTION h111_console_assign(cid bigint, p_operator text, actor text, peer text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
    prev text := c.operator;
BEGIN
    IF c.status <> 'open' THEN
        RAISE EXCEPTION 'case % is closed', cid USING ERRCODE = 'H1409';
    END IF;
    IF prev IS NOT DISTINCT FROM p_operator THEN
        RAISE EXCEPTION 'case % is %''s already', cid, p_operator USING ERRCODE = 'H1409';
    END IF;
    UPDATE cases SET operator = p_operator, updated_at = now() WHERE id = cid RETURNING * INTO c;
    PERFORM h111_rearm(cid);
    PERFORM h111_audit(actor, peer, 'case.assign', cid, jsonb_build_object('operator', prev),
        jsonb_build_object('operator', p_operator));
    PERFORM h111_publish(c, 'assign', actor);
    PERFORM h111_tell_owners(c, 'assign', actor, prev);
    RETURN jsonb_build_object('case', cid, 'operator', p_operator, 'previous', prev);
END $$;

-- The forms a Vietnamese number is stored in by one PBX or another:
-- +84912345678, 84912345678 and 0912345678 are one caller.
CREATE OR REPLACE FUNCTION h111_caller_forms(n text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n ~ '^\+84.' THEN ARRAY[n, '0' || substr(n, 4), substr(n, 2)]
                WHEN n ~ '^84.{8,}' THEN ARRAY[n, '+' || n, '0' || substr(n, 3)]
                WHEN n ~ '^0.' THEN ARRAY[n, '+84' || substr(n, 2), '84' || substr(n, 2)]
                ELSE ARRAY[n] END
$$;

-- A caller's cases, newest first (at most p_limit; total counts them all).
-- Looking a caller up is a read of children's cases by a number, so it is
-- audited, with the number as masked by the daemon (p_masked).
CREATE OR REPLACE FUNCTION h111_console_find(p_caller text, p_masked text, p_limit int,
                                             actor text, peer text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    forms text[] := h111_caller_forms(p_caller);
    total bigint;
    found jsonb;
BEGIN
    SELECT count(*) INTO total FROM cases WHERE caller = ANY (forms);
    SELECT coalesce(jsonb_agg(row ORDER BY opened_at DESC, id DESC), '[]') INTO found
      FROM (SELECT c.id, c.opened_at, jsonb_build_object('case', c.id,
                'opened_at', h111_time(c.opened_at), 'closed_at', h111_time(c.closed_at),
                'status', c.status, 'priority', c.priority, 'category', c.category,
                'operator', c.operator, 'province', c.province, 'outcome', c.outcome,
                'referred_to', c.referred_to, 'rules', to_jsonb(c.rules),
                'caller', c.caller) AS row
              FROM cases c WHERE c.caller = ANY (forms)
             ORDER BY c.opened_at DESC, c.id DESC LIMIT p_limit) q;
    PERFORM h111_audit(actor, peer, 'caller.find', NULL, NULL,
        jsonb_build_object('caller', p_masked, 'cases', total));
    RETURN jsonb_build_object('caller', p_caller, 'total', total, 'cases', found);
END $$;

-- Escalations (not warnings): the unacknowledged ones, oldest first, or
-- with p_all the latest p_limit acknowledged or not, in the order they
-- fired. The daemon masks the caller.
CREATE OR REPLACE FUNCTION h111_console_escalations(p_all boolean, p_limit int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    picked bigint[];
    unacked bigint;
BEGIN
    SELECT count(*) INTO unacked FROM escalations
     WHERE acked_at IS NULL AND kind = 'escalation';
    IF p_all THEN
        SELECT array_agg(id) INTO picked FROM (SELECT id FROM escalations
             WHERE kind = 'escalation' ORDER BY fired_at DESC, id DESC LIMIT p_limit) x;
    ELSE
        SELECT array_agg(id) INTO picked FROM (SELECT id FROM escalations
             WHERE acked_at IS NULL AND kind = 'escalation'
             ORDER BY fired_at, id LIMIT p_limit) x;
    END IF;
    RETURN jsonb_build_object('unacked', unacked, 'all', p_all,
        'escalations', (SELECT coalesce(jsonb_agg(jsonb_build_object('escalation', e.id,
            'case', e.case_id, 'kind', e.kind, 'deadline', e.deadline, 'level', e.level,
            'priority', e.priority, 'category', e.category, 'rules', to_jsonb(e.rules),
            'due', h111_time(e.due_at), 'fired_at', h111_time(e.fired_at),
            'age_s', floor(extract(epoch FROM now() - e.fired_at))::bigint,
            'late_ms', e.late_ms, 'acked_at', h111_time(e.acked_at), 'acked_by', e.acked_by,
            'status', c.status, 'operator', c.operator, 'province', c.province,
            'caller', c.caller) ORDER BY e.fired_at, e.id), '[]')
            FROM escalations e JOIN cases c ON c.id = e.case_id WHERE e.id = ANY (picked)));
END $$;

-- A note from the console: appended, then the case triaged again on it
-- (the daemon evaluated the rules: decision is as in h111_apply_triage).
CREATE OR REPLACE FUNCTION h111_console_note(cid bigint, p_text text, decision jsonb, actor text,
                                  peer text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
    note bigint;
BEGIN
    INSERT INTO notes (case_id, at, author, text) VALUES (cid, now(), actor, p_text)
        RETURNING id INTO note;
    IF decision IS NOT NULL THEN
        PERFORM h111_apply_triage(cid, jsonb_build_object('id', 'console-note-' || note,
                                                          'text', p_text), decision);
    END IF;
    PERFORM h111_rearm(cid);
    UPDATE cases SET updated_at = now() WHERE id = cid RETURNING * INTO c;
    PERFORM h111_audit(actor, peer, 'case.note', cid, NULL,
        jsonb_build_object('note', note, 'priority', c.priority, 'category', c.category));
    PERFORM h111_publish(c, 'note', actor);
    RETURN jsonb_build_object('case', cid, 'priority', c.priority, 'category', c.category,
        'rules', to_jsonb(c.rules));
END $$;

-- set category and/or priority. Raising is anyone's; lowering (a larger
-- number) is a supervisor's, with a reason, and re-arms nothing later than
-- the deadlines already running.
CREATE OR REPLACE FUNCTION h111_console_set(cid bigint, p_category text, p_priority int, p_reason text,
                                 actor text, peer text, supervisor boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
    before jsonb := jsonb_build_object('priority', c.priority, 'category', c.category);
BEGIN
    IF p_priority IS NOT NULL AND p_priority > c.priority THEN
        IF NOT supervisor THEN
            RAISE EXCEPTION 'lowering a priority needs a supervisor' USING ERRCODE = 'H1403';
        END IF;
        IF coalesce(btrim(p_reason), '') = '' THEN
            RAISE EXCEPTION 'lowering a priority needs --reason' USING ERRCODE = 'H1400';
        END IF;
    END IF;
    UPDATE cases SET priority = coalesce(p_priority, priority),
        category = coalesce(p_category, category),
        category_by = CASE WHEN p_category IS NOT NULL THEN 'operator' ELSE category_by END,
        updated_at = now()
      WHERE id = cid RETURNING * INTO c;
    PERFORM h111_rearm(cid);
    PERFORM h111_audit(actor, peer, 'case.set', cid, before,
        jsonb_build_object('priority', c.priority, 'category', c.category, 'reason', p_reason));
    PERFORM h111_publish(c, 'set', actor);
    RETURN jsonb_build_object('case', cid, 'priority', c.priority, 'category', c.category);
END $$;

CREATE OR REPLACE FUNCTION h111_console_close(cid bigint, p_outcome text, p_referred_to text,
                                              actor text, peer text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
BEGIN
    IF c.status <> 'open' THEN
        RAISE EXCEPTION 'case % is already closed', cid USING ERRCODE = 'H1409';
    END IF;
    c := h111_close(cid, p_outcome, p_referred_to, now(), false);
    PERFORM h111_rearm(cid);
    PERFORM h111_audit(actor, peer, 'case.close', cid, jsonb_build_object('status', 'open'),
        jsonb_build_object('outcome', p_outcome, 'referred_to', p_referred_to));
    PERFORM h111_publish(c, 'close', actor);
    RETURN jsonb_build_object('case', cid, 'status', 'closed', 'outcome', p_outcome);
END $$;

CREATE OR REPLACE FUNCTION h111_console_ack(p_escalation bigint, actor text, peer text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e escalations;
    c cases;
BEGIN
    SELECT * INTO e FROM escalations WHERE id = p_escalation;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % not found', p_escalation USING ERRCODE = 'H1404';
    END IF;
    IF h111_ack(p_escalation, 'console:' || actor, peer) IS NULL THEN
        RAISE EXCEPTION 'escalation % was acknowledged by % already', p_escalation, e.acked_by
            USING ERRCODE = 'H1409';
    END IF;
    SELECT * INTO c FROM cases WHERE id = e.case_id;
    PERFORM h111_publish(c, 'ack', actor);
    RETURN jsonb_build_object('escalation', e.id, 'case', e.case_id, 'deadline', e.deadline);
END $$;

CREATE OR REPLACE FUNCTION h111_console_hold(cid bigint, p_hold boolean, p_reason text, actor text,
                                  peer text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c cases := h111_case_for_update(cid);
BEGIN
    IF p_hold AND coalesce(btrim(p_reason), '') = '' THEN
        RAISE EXCEPTION 'a hold needs --reason' USING ERRCODE = 'H1400';
    END IF;
    IF c.status <> 'open' AND p_hold THEN
        RAISE EXCEPTION 'case % is closed', cid USING ERRCODE = 'H1409';
    END IF;
    IF (c.held_at IS NOT NULL) = p_hold THEN
        RAISE EXCEPTION 'case % is %', cid, CASE WHEN p_hold THEN 'on hold already'
            ELSE 'not on hold' END USING ERRCODE = 'H1409';
    END IF;
    PERFORM h111_hold(cid, p_hold, p_reason, 'console:' || actor, peer);
    SELECT * INTO c FROM cases WHERE id = cid;
    PERFORM h111_publish(c, CASE WHEN p_hold THEN 'hold' ELSE 'resume' END, actor);
    RETURN jsonb_build_object('case', cid, 'held', p_hold);
END $$;

CREATE OR REPLACE FUNCTION h111_console_status() RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH today AS (
        SELECT c.* FROM cases c
         WHERE c.offered_at >= (now() AT TIME ZONE h111_tz())::date::timestamp
                               AT TIME ZONE h111_tz()
    )
    SELECT jsonb_build_object(
        'pending_deadlines', (SELECT count(*) FROM timers WHERE NOT held),
        'unacked_escalations', (SELECT count(*) FROM escalations
                                 WHERE acked_at IS NULL AND kind = 'escalation'),
        'notifications', (SELECT jsonb_build_object(
            'pending', count(*) FILTER (WHERE state = 'pending'),
            'failed', count(*) FILTER (WHERE state = 'failed')) FROM outbox),
        'today', (SELECT jsonb_build_object(
            'calls', count(*),
            'answered', count(*) FILTER (WHERE answered_at IS NOT NULL),
            'abandoned', count(*) FILTER (WHERE answered_at IS NULL
                                            AND (abandoned_at IS NOT NULL OR ended_at IS NOT NULL)),
            'answered_within_20s', count(*) FILTER (WHERE answered_at - offered_at
                                                      <= interval '20 seconds'),
            'longest_wait_s', coalesce(max(extract(epoch FROM coalesce(answered_at, abandoned_at,
                ended_at, now()) - offered_at))::bigint, 0))
            FROM today))
$$;

