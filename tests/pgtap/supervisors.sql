-- The supervisors' console functions: the queue's filters, assign, find
-- by caller (its number's forms, its audit row) and the escalations list.
-- Notices (h111_tell_owners) are NOTIFYs, delivered at commit: the
-- integration test (test_supervisors.py) sees them on real tails.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

-- the queue's filters
INSERT INTO cases (id, opened_at, priority, category, province, operator) VALUES
    (-1, now() - interval '3 min', 1, 'drowning', 'Hà Nội', NULL),
    (-2, now() - interval '2 min', 2, 'neglect', 'Hà Nội', 'lan'),
    (-3, now() - interval '1 min', 4, NULL, 'Lào Cai', 'hoa');
INSERT INTO answers (case_id, question, answer, given_by, at)
    VALUES (-2, 'danger_now', '"no"', 'console:lan', now());
CREATE FUNCTION pg_temp.ids(r jsonb) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg((e->>'case')::bigint ORDER BY o), '{}')
      FROM jsonb_array_elements(r->'cases') WITH ORDINALITY x(e, o)
     WHERE (e->>'case')::bigint < 0
$$;
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL)), ARRAY[-1, -2, -3]::bigint[], 'unfiltered');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, 'hà nội')), ARRAY[-1, -2]::bigint[],
          'province, whatever its letters'' case');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, NULL, 'neglect')), ARRAY[-2]::bigint[],
          'category');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, NULL, 'none')), ARRAY[-3]::bigint[],
          'category none: no category');
SELECT is(pg_temp.ids(h111_console_queue(NULL, 'none')), ARRAY[-1]::bigint[],
          'operator none: unclaimed');
SELECT is(pg_temp.ids(h111_console_queue(NULL, 'hoa', 'Hà Nội')), '{}'::bigint[],
          'filters combine');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, NULL, NULL, '["danger_now"]')),
          ARRAY[-1]::bigint[], 'unanswered: P1 and P2 cases lacking an answer');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, NULL, NULL,
                                         '["danger_now", "injured"]')),
          ARRAY[-1, -2]::bigint[], 'one question unanswered is enough');
SELECT is(pg_temp.ids(h111_console_queue(NULL, NULL, NULL, NULL, '[]')), '{}'::bigint[],
          'rules that ask nothing leave nothing unanswered');

-- assign
SELECT is(h111_console_assign(-2, 'hoa', 'mai', 'uid 1002'),
          '{"case": -2, "operator": "hoa", "previous": "lan"}', 'assigned');
SELECT is((SELECT (actor, action, before, after)::text FROM audit
            WHERE case_id = -2 AND action = 'case.assign'),
          '(console:mai,case.assign,"{""operator"": ""lan""}","{""operator"": ""hoa""}")',
          'audited with the owner before and after');
SELECT throws_ok($$SELECT h111_console_assign(-2, 'hoa', 'mai', NULL)$$, 'H1409',
                 'case -2 is hoa''s already', 'to its owner: conflict');
SELECT throws_ok($$SELECT h111_console_assign(-99, 'hoa', 'mai', NULL)$$, 'H1404', NULL,
                 'an unknown case is not_found');
UPDATE cases SET status = 'closed' WHERE id = -3;
SELECT throws_ok($$SELECT h111_console_assign(-3, 'lan', 'mai', NULL)$$, 'H1409',
                 'case -3 is closed', 'a closed case: conflict');

-- find by caller
SELECT is(h111_caller_forms('+84912345678'), ARRAY['+84912345678', '0912345678', '84912345678'],
          '+84 form');
SELECT is(h111_caller_forms('0912345678'), ARRAY['0912345678', '+84912345678', '84912345678'],
          '0 form');
SELECT is(h111_caller_forms('84912345678'), ARRAY['84912345678', '+84912345678', '0912345678'],
          '84 form');
SELECT is(h111_caller_forms('113'), ARRAY['113'], 'a short number is itself');
SELECT is(h111_caller_forms('8411'), ARRAY['8411'], '84 and few digits: not a country code');
INSERT INTO cases (id, opened_at, priority, caller, status) VALUES
    (-11, now() - interval '3 day', 3, '+84912345678', 'closed'),
    (-12, now() - interval '2 day', 2, '0912345678', 'open'),
    (-13, now() - interval '1 day', 4, '84912345678', 'open'),
    (-14, now(), 4, '0912345679', 'open');
SELECT is((SELECT array_agg((e->>'case')::int) FROM jsonb_array_elements(
             h111_console_find('0912345678', '091*****78', 100, 'mai', 'uid 1002')->'cases') e),
          ARRAY[-13, -12, -11], 'every form, newest first');
SELECT is(h111_console_find('+84912345678', '+849******78', 1, 'mai', NULL)->>'total', '3',
          'total counts them all');
SELECT is(jsonb_array_length(h111_console_find('+84912345678', '+849******78', 1, 'mai',
                                               NULL)->'cases'), 1, 'the limit');
SELECT is((SELECT array_agg(after::text ORDER BY id) FROM audit WHERE action = 'caller.find'),
          ARRAY['{"cases": 3, "caller": "091*****78"}', '{"cases": 3, "caller": "+849******78"}',
                '{"cases": 3, "caller": "+849******78"}'],
          'each look-up audited with the number as the daemon masked it');

-- escalations
INSERT INTO escalations (id, case_id, deadline, kind, level, due_at, fired_at, late_ms, priority,
                         category, acked_at, acked_by) VALUES
    (-1, -1, 'claim', 'escalation', 1, now() - interval '10 min', now() - interval '10 min', 5, 1,
     'drowning', NULL, NULL),
    (-2, -1, 'claim', 'warning', 0, now() - interval '9 min', now() - interval '9 min', 5, 1,
     'drowning', NULL, NULL),
    (-3, -2, 'act', 'escalation', 1, now() - interval '8 min', now() - interval '8 min', 5, 2,
     'neglect', now(), 'console:mai'),
    (-4, -2, 'act', 'escalation', 2, now() - interval '7 min', now() - interval '7 min', 5, 2,
     'neglect', NULL, NULL);
CREATE FUNCTION pg_temp.escs(r jsonb) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg((e->>'escalation')::bigint ORDER BY o), '{}')
      FROM jsonb_array_elements(r->'escalations') WITH ORDINALITY x(e, o)
     WHERE (e->>'escalation')::bigint < 0
$$;
SELECT is(pg_temp.escs(h111_console_escalations(false, 100)), ARRAY[-1, -4]::bigint[],
          'unacknowledged escalations, oldest first, no warnings');
SELECT is(pg_temp.escs(h111_console_escalations(false, 1)), ARRAY[-1]::bigint[],
          'the limit keeps the oldest');
SELECT is(pg_temp.escs(h111_console_escalations(true, 100)), ARRAY[-1, -3, -4]::bigint[],
          'all: acknowledged too, in the order they fired');
SELECT is(pg_temp.escs(h111_console_escalations(true, 2)), ARRAY[-3, -4]::bigint[],
          'all with a limit: the latest');
SELECT is((SELECT e->>'acked_by' FROM jsonb_array_elements(
             h111_console_escalations(true, 100)->'escalations') e
            WHERE (e->>'escalation')::int = -3), 'console:mai', 'who acknowledged it');
SELECT is((h111_console_escalations(false, 1)->>'unacked')::int >= 2, true,
          'unacked counts beyond the limit');

SELECT * FROM finish();
ROLLBACK;
