-- h111_fire from two sessions at once (two daemons on one database): a
-- timer one session has claimed is skipped by the other (SKIP LOCKED), not
-- waited for and not fired twice; each deadline escalates once per level.
-- The sessions are dblink connections, so this file commits its cases and
-- removes them at the end.
\set ON_ERROR_STOP 1
\set QUIET 1
BEGIN;
\ir policy.sql
INSERT INTO cases (id, opened_at, priority, caller)
    SELECT -100 - n, now() - interval '10 minutes', 1, 'pgtap-fire' FROM generate_series(1, 20) n;
INSERT INTO timers (case_id, deadline, started_at, due_at, warn_at, next_at)
    SELECT -100 - n, 'claim', now() - interval '10 minutes', now() - interval '9 minutes', NULL,
           now() - interval '9 minutes' + n * interval '1 second'
      FROM generate_series(1, 20) n;
COMMIT;

SELECT * FROM no_plan();
SELECT is(array_agg(dblink_connect(s, format('host=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_database(),
    current_user))), ARRAY['OK', 'OK'], 'two sessions') FROM unnest(ARRAY['a', 'b']) s;
-- a session that waited instead of skipping fails here, in 5 s, not hangs
SELECT is(array_agg(dblink_exec(s, 'SET statement_timeout = 5000')), ARRAY['SET', 'SET'],
          'each gives up waiting after 5 s') FROM unnest(ARRAY['a', 'b']) s;

SELECT is(dblink_exec('a', 'BEGIN'), 'BEGIN', 'session a: BEGIN');
SELECT is((SELECT count(*)::int FROM dblink('a',
            'SELECT record FROM h111_fire(10) WHERE record IS NOT NULL') AS t(record jsonb)),
          10, 'session a fires 10 timers and holds them');
SELECT is(dblink_exec('b', 'BEGIN'), 'BEGIN', 'session b: BEGIN');
SELECT is((SELECT count(*)::int FROM dblink('b',
            'SELECT record FROM h111_fire(100) WHERE record IS NOT NULL') AS t(record jsonb)),
          10, 'session b skips those and fires the other 10, without waiting');
SELECT is((SELECT count(*)::int FROM dblink('b',
            'SELECT record FROM h111_fire(100) WHERE record IS NOT NULL') AS t(record jsonb)),
          0, 'b again: nothing (a''s are locked, its own moved on)');
SELECT is(dblink_exec('a', 'COMMIT'), 'COMMIT', 'session a: COMMIT');
SELECT is(dblink_exec('b', 'COMMIT'), 'COMMIT', 'session b: COMMIT');

SELECT is((SELECT count(*)::int FROM escalations WHERE case_id BETWEEN -120 AND -101), 20,
          '20 escalations for 20 due deadlines');
SELECT is((SELECT count(DISTINCT case_id)::int FROM escalations
            WHERE case_id BETWEEN -120 AND -101 AND level = 1), 20, 'each deadline once, level 1');
SELECT is((SELECT count(*)::int FROM dblink('a',
            'SELECT record FROM h111_fire(100) WHERE record IS NOT NULL') AS t(record jsonb)),
          0, 'after both commit, nothing is due again before the repeat interval');
SELECT is((SELECT min(next_at) FROM timers WHERE case_id BETWEEN -120 AND -101) >
          now() + interval '200 seconds', true, 'the next level is a repeat (300 s) away');

SELECT is(array_agg(dblink_disconnect(s)), ARRAY['OK', 'OK'], 'sessions closed')
  FROM unnest(ARRAY['a', 'b']) s;
SELECT * FROM finish();
\set QUIET 1
DELETE FROM escalations WHERE case_id BETWEEN -120 AND -101;
DELETE FROM timers WHERE case_id BETWEEN -120 AND -101;
DELETE FROM cases WHERE id BETWEEN -120 AND -101;
