-- The outbox: h111_fire adds one row per channel of the level it fires, in
-- its own transaction; h111_outbox_claim leases due rows (a second claim
-- gets nothing); h111_outbox_done records a try: sent, retried, failed when
-- the next try would come after give_up_at, ignored when the row was
-- claimed again since. Everything is rolled back.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql
UPDATE settings SET value = value || '{"notify": [{"name": "hook", "level": 1},
    {"name": "sms", "level": 1}, {"name": "warn", "level": 0}, {"name": "l2", "level": 2}],
    "notify_give_up": 60}' WHERE key = 'escalation';
-- no row of an earlier test may be due
UPDATE outbox SET state = 'sent' WHERE state = 'pending';
INSERT INTO cases (id, opened_at, priority, caller) VALUES (-31, now() - interval '1 hour', 1,
    '+84912345678');
INSERT INTO timers (case_id, deadline, started_at, due_at, warn_at, next_at)
    VALUES (-31, 'claim', now() - interval '1 hour', now() - interval '59 minutes', NULL,
            now() - interval '59 minutes');

CREATE TEMP TABLE fired AS SELECT record FROM h111_fire(10) WHERE record IS NOT NULL;
SELECT is((SELECT count(*)::int FROM fired), 1, 'one escalation fired');
SELECT results_eq('SELECT channel, state, attempts FROM outbox WHERE case_id = -31 ORDER BY channel',
    $$VALUES ('hook', 'pending', 0), ('sms', 'pending', 0)$$,
    'a row for each channel of level 1, none for level 0 or 2');
SELECT is((SELECT bool_and(o.payload = f.record AND o.escalation_id = (f.record->>'escalation')::bigint)
             FROM outbox o, fired f WHERE o.case_id = -31), true,
          'each row carries the escalation''s record');
SELECT is((SELECT bool_and(give_up_at = created_at + interval '60 seconds') FROM outbox
            WHERE case_id = -31), true, 'give_up_at: notify_give_up after the escalation');

CREATE TEMP TABLE claimed AS SELECT * FROM h111_outbox_claim(10, 40);
SELECT is((SELECT count(*)::int FROM claimed WHERE id IS NOT NULL), 2, 'both claimed');
SELECT is((SELECT bool_and(attempt = 1) FROM claimed WHERE id IS NOT NULL), true,
          'first try');
SELECT is((SELECT count(*)::int FROM h111_outbox_claim(10, 40) WHERE id IS NOT NULL), 0,
          'leased: a second claim gets nothing');
SELECT is((SELECT next_at > now() + interval '30 seconds' FROM claimed WHERE id IS NULL), true,
          'the last row says when the next one is due: the lease''s end');

SELECT is(h111_outbox_done((SELECT id FROM claimed WHERE channel = 'hook'), 1, true, NULL, 10),
          'sent', 'hook sent');
SELECT is(h111_outbox_done((SELECT id FROM claimed WHERE channel = 'hook'), 1, false, 'x', 10),
          NULL, 'a late answer for a row no longer pending changes nothing');
SELECT is(h111_outbox_done((SELECT id FROM claimed WHERE channel = 'sms'), 7, false, 'x', 10),
          NULL, 'an answer for another try changes nothing');
SELECT is(h111_outbox_done((SELECT id FROM claimed WHERE channel = 'sms'), 1, false,
          'HTTP 503', 10), 'pending', 'sms failed: tried again');
SELECT is((SELECT (next_at - clock_timestamp()) BETWEEN interval '8 seconds' AND interval '10 seconds'
             FROM outbox WHERE case_id = -31 AND channel = 'sms'), true, 'in 10 s');
SELECT is((SELECT last_error FROM outbox WHERE case_id = -31 AND channel = 'sms'), 'HTTP 503',
          'with its error');
UPDATE outbox SET next_at = now() - interval '1 second' WHERE case_id = -31;
SELECT is((SELECT attempt FROM h111_outbox_claim(10, 40) WHERE channel = 'sms'), 2,
          'due again: the second try');
SELECT is(h111_outbox_done((SELECT id FROM claimed WHERE channel = 'sms'), 2, false,
          'HTTP 503', 61), 'failed', 'a retry after give_up_at: failed');
SELECT results_eq('SELECT channel, state, attempts, done_at IS NOT NULL FROM outbox
                    WHERE case_id = -31 ORDER BY channel',
    $$VALUES ('hook', 'sent', 1, true), ('sms', 'failed', 2, true)$$, 'final states');
SELECT is(h111_outbox_of(-31)->1->>'error', 'HTTP 503', 'show lists them');
SELECT is(h111_console_status()->'notifications'->>'failed', '1', 'status counts the failed');

-- a channel gone from the policy (a reload): failed at once, no retry asked
INSERT INTO outbox (escalation_id, case_id, channel, payload, give_up_at)
    SELECT escalation_id, case_id, 'gone', payload, now() + interval '1 hour'
      FROM outbox WHERE case_id = -31 LIMIT 1;
SELECT is(h111_outbox_done(o.id, 1, false, 'no such channel', NULL), 'failed',
          'no retry: failed') FROM h111_outbox_claim(10, 40) o WHERE o.channel = 'gone';

SELECT * FROM finish();
ROLLBACK;
