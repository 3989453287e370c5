-- Functions by job: answers, the key questions' answers of a case
-- (migration 004). The questions themselves live in the rules file, which
-- only the daemon reads: it checks every answer before it comes here.

-- The case's answers now, the latest to each question:
-- {"danger_now": {"answer": "yes", "by": "console:lan", "at": "…"}, …}.
CREATE OR REPLACE FUNCTION h111_answers_of(cid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(a.question, jsonb_build_object('answer', a.answer,
               'by', a.given_by, 'at', h111_time(a.at))), '{}')
      FROM (SELECT DISTINCT ON (question) question, answer, given_by, at
              FROM answers WHERE case_id = cid ORDER BY question, id DESC) a
$$;

-- The same as {"danger_now": "yes", …}: what triage reads.
CREATE OR REPLACE FUNCTION h111_answer_values(cid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(a.question, a.answer), '{}')
      FROM (SELECT DISTINCT ON (question) question, answer
              FROM answers WHERE case_id = cid ORDER BY question, id DESC) a
$$;

-- Records answers {"question": answer, …} given by actor (console:NAME or
-- bridge:CLIENT) at p_at, with an audit row of what each was before.
CREATE OR REPLACE FUNCTION h111_record_answers(cid bigint, p_answers jsonb, actor text,
                                               peer text, p_event text, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    before jsonb := (SELECT h111_answer_values(cid)) ;
BEGIN
    INSERT INTO answers (case_id, question, answer, given_by, at, event_id)
        SELECT cid, a.key, a.value, actor, p_at, p_event FROM jsonb_each(p_answers) a;
    INSERT INTO audit (actor, peer, action, case_id, before, after)
        VALUES (actor, peer, 'case.answer', cid,
                (SELECT coalesce(jsonb_object_agg(k, before->k), '{}')
                   FROM jsonb_object_keys(p_answers) k WHERE before ? k),
                jsonb_build_object('answers', p_answers, 'event', p_event));
END $$;

-- What the daemon reads to triage a whole case again when an answer is
-- given at the console: its text (tickets, then notes, in order; the last
-- 64 KiB), what the rules condition on, and every answer so far.
CREATE OR REPLACE FUNCTION h111_case_context(cid bigint) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    c cases;
BEGIN
    c := h111_case(cid);
    IF c.status <> 'open' THEN
        RAISE EXCEPTION 'case % is closed', cid USING ERRCODE = 'H1409';
    END IF;
    RETURN jsonb_build_object('case', c.id, 'category', c.category, 'child_age', c.child_age,
        'ivr', c.ivr, 'line', c.line, 'queue', c.queue, 'province', c.province,
        'answers', h111_answer_values(cid),
        'text', (SELECT right(string_agg(t, E'\n' ORDER BY k, at, n), 65536) FROM (
                    SELECT 0 AS k, created_at AS at, 0::bigint AS n, text AS t
                      FROM tickets WHERE case_id = cid AND text IS NOT NULL
                    UNION ALL
                    SELECT 1, at, id, text FROM notes WHERE case_id = cid) s));
END $$;
