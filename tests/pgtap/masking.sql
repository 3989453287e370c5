-- Caller masking lives in one place, the daemon's C (log_mask_number,
-- tested by tests/unit/test_timers.c and tests/integration/test_masking.py):
-- the logs must mask every run of digits wherever it came from, which SQL
-- cannot do. The database keeps numbers whole and hands them whole to the
-- daemon, which masks before any console or log sees them.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

SELECT hasnt_function('h111_mask', 'no second mask in SQL');
INSERT INTO cases (id, opened_at, priority, caller, offered_at)
    VALUES (-1, now() - interval '1 hour', 1, '+84912345678', now() - interval '1 hour');
SELECT is((SELECT e->>'caller' FROM jsonb_array_elements(h111_console_queue(NULL, NULL)->'cases') e
            WHERE (e->>'case')::bigint = -1), '+84912345678',
          'the queue gives the daemon the whole number (it masks)');
SELECT lives_ok('SELECT h111_rearm(-1)', 'its deadlines armed');
SELECT is((SELECT record->>'caller' FROM h111_fire(100)
            WHERE (record->>'case')::bigint = -1 LIMIT 1), '+84912345678',
          'so does an escalation record (the escalation log masks it)');
SELECT is(h111_console_show(-1)->'case'->>'caller', '+84912345678',
          'show gives the number whole (the daemon masks it for operators who do not own the case)');

SELECT * FROM finish();
ROLLBACK;
