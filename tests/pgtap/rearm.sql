-- h111_rearm: arms what a case's state asks for, tightens a deadline after
-- a priority raise (counted from the clock's start), never loosens one,
-- leaves an escalating timer alone, and stops what was met.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

INSERT INTO cases (id, opened_at, priority, offered_at)
    VALUES (-1, now() - interval '10 seconds', 4, now() - interval '10 seconds');
SELECT is(h111_rearm(-1), now() - interval '10 seconds' + interval '240 seconds',
          'P4: the earliest moment is the answer warning (80% of 300 s)');
SELECT is((SELECT array_agg(deadline ORDER BY deadline) FROM timers WHERE case_id = -1),
          ARRAY['act', 'answer', 'claim'], 'answer, claim and act armed; no plan for P4');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'claim'),
          now() - interval '10 seconds' + interval '4 hours', 'P4 claim: 4 hours');

UPDATE cases SET priority = 1 WHERE id = -1;
SELECT lives_ok('SELECT h111_rearm(-1)', 'raised to P1');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'claim'),
          now() - interval '10 seconds' + interval '60 seconds',
          'tightened: P1 claim, 60 s from the original start');
SELECT is((SELECT warn_at FROM timers WHERE case_id = -1 AND deadline = 'claim'),
          now() - interval '10 seconds' + interval '48 seconds', 'its warning with it');

UPDATE cases SET priority = 3 WHERE id = -1;
SELECT lives_ok('SELECT h111_rearm(-1)', 'lowered to P3');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'claim'),
          now() - interval '10 seconds' + interval '60 seconds', 'never loosened');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'act'),
          now() - interval '10 seconds' + interval '1 hour', 'act neither');

-- an escalating timer keeps its chain
UPDATE timers SET level = 1, due_at = due_at + interval '1 day'
 WHERE case_id = -1 AND deadline = 'act';
UPDATE cases SET priority = 1 WHERE id = -1;
SELECT lives_ok('SELECT h111_rearm(-1)', 'raised again');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'act'),
          now() - interval '10 seconds' + interval '1 hour' + interval '1 day',
          'a timer already escalating is not moved');

-- met deadlines stop
UPDATE cases SET answered_at = now(), operator = 'lan' WHERE id = -1;
SELECT lives_ok('SELECT h111_rearm(-1)', 'answered and claimed');
SELECT is((SELECT array_agg(deadline) FROM timers WHERE case_id = -1), ARRAY['act'],
          'answer and claim stopped, act runs');
UPDATE cases SET referred_at = now() WHERE id = -1;
SELECT lives_ok('SELECT h111_rearm(-1)', 'referred');
SELECT is((SELECT array_agg(deadline) FROM timers WHERE case_id = -1), ARRAY['plan'],
          'act met; the plan clock starts with the referral');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'plan'),
          h111_add_working_days(now(), 5, h111_policy()), 'plan: 5 working days');

-- no policy stored: nothing armed, nothing fails
DELETE FROM settings;
SELECT is(h111_rearm(-1), NULL, 'without a policy rearm does nothing');

SELECT * FROM finish();
ROLLBACK;
