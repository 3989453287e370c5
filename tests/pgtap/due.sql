-- h111_due: seconds, working days (weekends, Tết), the hotline's time
-- zone; holds move the act and plan deadlines by the time held.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

SELECT is(h111_due('2026-07-06 10:00+07', 1, 'answer', h111_policy()),
          '2026-07-06 10:00:20+07'::timestamptz, 'P1 answer: 20 seconds');
SELECT is(h111_due('2026-07-06 10:00+07', 2, 'act', h111_policy()),
          '2026-07-06 22:00+07'::timestamptz, 'P2 act: the legal 12 hours');
SELECT is(h111_due(NULL, 1, 'answer', h111_policy()), NULL, 'no clock, no deadline');
SELECT is(h111_due('2026-07-06 10:00+07', 3, 'plan', h111_policy()), NULL,
          'P3 has no plan deadline');

SELECT is(h111_due('2026-07-06 10:00+07', 1, 'plan', h111_policy()),
          '2026-07-13 10:00+07'::timestamptz, 'Monday + 5 working days: next Monday');
SELECT is(h111_due('2026-07-10 10:00+07', 1, 'plan', h111_policy()),
          '2026-07-17 10:00+07'::timestamptz, 'Friday + 5 working days: next Friday');
SELECT is(h111_due('2026-07-11 15:00+07', 1, 'plan', h111_policy()),
          '2026-07-20 00:00+07'::timestamptz,
          'a clock started on Saturday starts Monday at midnight');
SELECT is(h111_due('2026-07-05 23:30+00', 2, 'plan', h111_policy()),
          '2026-07-13 06:30+07'::timestamptz,
          'days are counted in the hotline''s zone: Sunday 23:30 UTC is Monday there');
SELECT is(h111_due('2027-02-03 09:00+07', 1, 'plan', h111_policy()),
          '2027-02-17 09:00+07'::timestamptz,
          'Tết: five holidays and a weekend are skipped');
SELECT is(h111_due('2027-02-04 09:00+07', 1, 'plan', h111_policy()),
          '2027-02-18 00:00+07'::timestamptz,
          'a clock started during Tết starts on the first working day after it');
SELECT throws_ok($$SELECT h111_add_working_days(now(), 1,
                   '{"weekend": [1,2,3,4,5,6,7], "holidays": []}')$$,
                 'P0001', NULL, 'a calendar with no working day is an error, not a loop');

-- holds: a case on hold for an hour has its act deadline an hour later
INSERT INTO cases (id, opened_at, priority, operator)
    VALUES (-1, now() - interval '10 minutes', 2, 'lan');
SELECT ok(h111_rearm(-1) IS NOT NULL, 'rearm arms the act deadline');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'act'),
          now() - interval '10 minutes' + interval '12 hours', 'act due 12 h after opening');
SELECT ok(h111_hold(-1, true, 'waiting on the commune', 'console:test', NULL) IS NULL,
          'on hold: nothing pending (its clocks are paused)');
SELECT is((SELECT held FROM timers WHERE case_id = -1 AND deadline = 'act'), true,
          'the act timer is held');
UPDATE cases SET held_at = now() - interval '1 hour' WHERE id = -1;  -- as if an hour ago
SELECT ok(h111_hold(-1, false, NULL, 'console:test', NULL) IS NOT NULL, 'resumed');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'act'),
          now() - interval '10 minutes' + interval '13 hours', 'act due an hour later');
SELECT is((SELECT held_s FROM cases WHERE id = -1), 3600::double precision,
          'the hour is counted');
SELECT lives_ok('SELECT h111_rearm(-1)', 'rearm after the hold');
SELECT is((SELECT due_at FROM timers WHERE case_id = -1 AND deadline = 'act'),
          now() - interval '10 minutes' + interval '13 hours',
          'rearm keeps the hour held (it does not take it back)');
SELECT is((SELECT count(*)::int FROM audit WHERE case_id = -1
            AND action IN ('case.hold', 'case.resume')), 2, 'hold and resume are audited');

SELECT * FROM finish();
ROLLBACK;
