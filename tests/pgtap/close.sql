-- The close paths, one function (h111_close) behind each: the console's
-- close, a ticket.closed event, a silent P4 call that closes itself (and
-- reopens with a ticket). Outcomes are the domain h111_outcome.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

SELECT has_domain('h111_outcome');
SELECT col_type_is('cases', 'outcome', 'h111_outcome', 'cases.outcome is an outcome');
SELECT has_function('h111_close');

-- the console's close
INSERT INTO cases (id, opened_at, priority, operator) VALUES (-1, now(), 2, 'lan');
SELECT lives_ok('SELECT h111_rearm(-1)', 'its deadlines armed');
SELECT is(h111_console_close(-1, 'referred', 'Công an xã', 'lan', 'uid 1001')->>'status',
          'closed', 'console close');
SELECT is((SELECT (status, outcome, referred_to, referred_at IS NOT NULL, closed_at IS NOT NULL)::text
             FROM cases WHERE id = -1),
          '(closed,referred,"Công an xã",t,t)', 'outcome, referral and times recorded');
SELECT is((SELECT array_agg(deadline) FROM timers WHERE case_id = -1), ARRAY['plan'],
          'act stopped; a referred case''s plan clock runs');
SELECT is((SELECT actor || ' ' || action || ' ' || (after->>'outcome') FROM audit
            WHERE case_id = -1), 'console:lan case.close referred', 'audited');
SELECT throws_ok($$SELECT h111_console_close(-1, 'resolved', NULL, 'lan', NULL)$$, 'H1409',
                 NULL, 'a closed case cannot be closed again');
INSERT INTO cases (id, opened_at, priority) VALUES (-2, now(), 3);
SELECT throws_ok($$SELECT h111_console_close(-2, 'fixed', NULL, 'lan', NULL)$$, '23514',
                 NULL, 'an outcome outside h111_outcome is refused');
SELECT throws_ok($$SELECT h111_console_close(-99, 'resolved', NULL, 'lan', NULL)$$, 'H1404',
                 NULL, 'an unknown case is not_found');
SELECT lives_ok($$SELECT h111_console_close(-2, 'resolved', 'Hội Phụ nữ', 'lan', NULL)$$,
                'an organisation named with another outcome');
SELECT ok((SELECT referred_at IS NOT NULL FROM cases WHERE id = -2),
          'is a referral too, on every path');

-- ticket.closed from the bridge
SELECT is((SELECT case_id IS NOT NULL FROM h111_apply(
    '[{"ev": {"id": "pt-1", "type": "ticket.created", "ticket_id": "T-1", "text": "x"},
       "rx": "2026-07-06T10:00:00+07:00", "client": "pbx"},
      {"ev": {"id": "pt-2", "type": "ticket.closed", "ticket_id": "T-1",
              "outcome": "counselled"},
       "rx": "2026-07-06T10:05:00+07:00", "client": "pbx"}]', 4) WHERE idx = 2),
    true, 'ticket.closed applied');
SELECT is((SELECT (c.status, c.outcome, c.closed_at)::text FROM cases c
             JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = 'T-1'),
          (SELECT ('closed', 'counselled', '2026-07-06T10:05:00+07:00'::timestamptz)::text),
          'closed with its outcome at the event''s time');
SELECT is((SELECT actor || ' ' || action FROM audit a JOIN tickets t ON t.case_id = a.case_id
            WHERE t.ticket_id = 'T-1'), 'bridge:pbx case.close', 'audited as the bridge''s');

-- a silent P4 call closes itself, and a ticket reopens it
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "pt-3", "type": "call.offered", "call_id": "C-1", "caller": "0912345678"},
       "rx": "2026-07-06T10:00:00+07:00"},
      {"ev": {"id": "pt-4", "type": "call.ended", "call_id": "C-1"},
       "rx": "2026-07-06T10:00:09+07:00"}]', 4)$$, 'a silent call');
SELECT is((SELECT (status, outcome, closed_auto)::text FROM cases WHERE call_id = 'C-1'),
          '(closed,no_action,t)', 'closed by itself as no_action');
SELECT is((SELECT count(*)::int FROM timers t JOIN cases c ON c.id = t.case_id
            WHERE c.call_id = 'C-1'), 0, 'no deadline runs');
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "pt-5", "type": "ticket.created", "ticket_id": "T-2", "call_id": "C-1"},
       "rx": "2026-07-06T10:02:00+07:00"}]', 4)$$, 'a ticket for it');
SELECT is((SELECT (status, outcome, closed_auto)::text FROM cases WHERE call_id = 'C-1'),
          '(open,,f)', 'reopened');

SELECT * FROM finish();
ROLLBACK;
