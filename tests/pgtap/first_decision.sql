-- The first automatic decision (cases.first_*) and the decision at close
-- (cases.final_*) that report --triage compares: gathered from the opening
-- priority and the call's decisions until a decision has read a text, then
-- kept; the rules' own category even where an operator's stood; final_*
-- taken at the close and left alone after it.
BEGIN;
SELECT * FROM no_plan();
\ir policy.sql

SELECT has_column('cases', 'first_priority');
SELECT has_column('cases', 'final_category');
SELECT col_type_is('cases', 'first_priority', 'h111_priority', 'first_priority is a priority');

-- a line whose cases open at P3: the first decision starts there
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-1", "type": "ticket.created", "ticket_id": "FD-1", "text": "hỏi"},
       "rx": "2026-07-06T10:00:00+07:00",
       "triage": {"priority": 4, "category": null, "rules": [], "tags": []}}]', 3)$$,
    'a text the rules make nothing of');
SELECT is((SELECT (c.first_priority, c.first_category, c.first_rules, c.first_read_text,
                   c.first_at IS NOT NULL)::text
             FROM cases c JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = 'FD-1'),
          '(3,,{},t,t)', 'the opening priority, no category, no rule; a text was read');

-- the call's IVR decision, then the ticket's text, then a later note
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-2", "type": "call.offered", "call_id": "FD-C2", "ivr": ["3"]},
       "rx": "2026-07-06T10:00:00+07:00",
       "triage": {"priority": 2, "category": "trafficking", "rules": ["ivr"], "tags": []}},
      {"ev": {"id": "fd-3", "type": "ticket.created", "ticket_id": "FD-2", "call_id": "FD-C2",
              "text": "hỏi"}, "rx": "2026-07-06T10:01:00+07:00",
       "triage": {"priority": 4, "category": "info", "rules": ["info", "ivr"], "tags": []}},
      {"ev": {"id": "fd-4", "type": "ticket.updated", "ticket_id": "FD-2", "text": "đang"},
       "rx": "2026-07-06T10:02:00+07:00",
       "triage": {"priority": 1, "category": "drowning", "rules": ["now"], "tags": []}}]',
    4)$$, 'a call, its ticket, a note');
SELECT is((SELECT (first_priority, first_category, first_rules, first_read_text,
                   priority, category)::text FROM cases WHERE call_id = 'FD-C2'),
          '(2,info,"{ivr,info}",t,1,drowning)',
          'the call and the first text make the first decision; the note moves the case only');

-- a ticket first, its call after (PBXs deliver out of order): the call's
-- decision still belongs to the first
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-5", "type": "ticket.created", "ticket_id": "FD-3", "call_id": "FD-C3",
              "text": "chửi mắng"}, "rx": "2026-07-06T10:00:00+07:00",
       "triage": {"priority": 3, "category": "abuse.emotional", "rules": ["insult"],
                  "tags": []}},
      {"ev": {"id": "fd-6", "type": "call.offered", "call_id": "FD-C3", "ivr": ["1"]},
       "rx": "2026-07-06T10:00:30+07:00",
       "triage": {"priority": 1, "rules": ["ivr-emergency"], "tags": []}}]', 4)$$,
    'a ticket, then its call');
SELECT is((SELECT (first_priority, first_category, first_rules)::text FROM cases
            WHERE call_id = 'FD-C3'),
          '(1,abuse.emotional,"{insult,ivr-emergency}")', 'the late call counts');

-- the operator's category on the ticket keeps the rules' off the case, not
-- off the first decision
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-7", "type": "ticket.created", "ticket_id": "FD-4", "text": "sờ",
              "category": "neglect"}, "rx": "2026-07-06T10:00:00+07:00",
       "triage": {"priority": 2, "category": "abuse.sexual", "rules": ["sexual"],
                  "tags": []}}]', 4)$$, 'a ticket with the operator''s category');
SELECT is((SELECT (c.category, c.first_category)::text FROM cases c JOIN tickets t
             ON t.case_id = c.id WHERE t.ticket_id = 'FD-4'),
          '(neglect,abuse.sexual)', 'the case has the operator''s, the first decision the rules''');

-- no text until a console note: the note's decision is the first
INSERT INTO cases (id, opened_at, priority, first_priority) VALUES (-1, now(), 4, 4);
SELECT is((SELECT first_at FROM cases WHERE id = -1), NULL, 'no decision yet');
SELECT lives_ok($$SELECT h111_console_note(-1, 'bé đuối nước',
    '{"priority": 1, "category": "drowning", "rules": ["drowning"], "tags": []}',
    'lan', NULL)$$, 'a note');
SELECT is((SELECT (first_priority, first_category, first_read_text)::text FROM cases
            WHERE id = -1), '(1,drowning,t)', 'the note was the first text');
SELECT lives_ok($$SELECT h111_console_note(-1, 'thêm',
    '{"priority": 1, "category": "abuse.physical", "rules": ["later"], "tags": []}',
    'lan', NULL)$$, 'another note');
SELECT is((SELECT (first_category, first_rules)::text FROM cases WHERE id = -1),
          '(drowning,{drowning})', 'a second note does not move it');

-- the decision at close, kept whatever changes after
SELECT lives_ok($$SELECT h111_console_set(-1, 'violence.domestic', NULL, NULL, 'lan', NULL,
                                          false)$$, 're-categorised');
SELECT lives_ok($$SELECT h111_console_close(-1, 'resolved', NULL, 'lan', NULL)$$, 'closed');
SELECT lives_ok($$SELECT h111_console_set(-1, 'silent', 4, 'gọi nhầm', 'mai', NULL, true)$$,
                'changed after its close');
SELECT is((SELECT (final_priority, final_category, priority, category)::text FROM cases
            WHERE id = -1), '(1,violence.domestic,4,silent)', 'final_* is the close''s');

-- closed by a ticket.closed whose own text raises it: the close is taken
-- before the closing text's decision
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-8", "type": "ticket.closed", "ticket_id": "FD-1", "outcome":
              "counselled", "text": "đang"}, "rx": "2026-07-06T10:09:00+07:00",
       "triage": {"priority": 2, "category": "abuse.physical", "rules": ["x"],
                  "tags": []}}]', 3)$$, 'closed with a text');
SELECT is((SELECT (c.final_priority, c.final_category, c.priority)::text FROM cases c JOIN tickets t
             ON t.case_id = c.id WHERE t.ticket_id = 'FD-1'), '(3,,2)',
          'final_* as people closed it');

-- a silent call's close is undone by its ticket, and so is its final_*
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-9", "type": "call.offered", "call_id": "FD-C5"},
       "rx": "2026-07-06T10:00:00+07:00"},
      {"ev": {"id": "fd-10", "type": "call.ended", "call_id": "FD-C5"},
       "rx": "2026-07-06T10:00:09+07:00"}]', 4)$$, 'a silent call');
SELECT is((SELECT (closed_auto, final_priority)::text FROM cases WHERE call_id = 'FD-C5'),
          '(t,4)', 'closed by itself, at P4');
SELECT lives_ok($$SELECT * FROM h111_apply(
    '[{"ev": {"id": "fd-11", "type": "ticket.created", "ticket_id": "FD-5",
              "call_id": "FD-C5"}, "rx": "2026-07-06T10:02:00+07:00"}]', 4)$$, 'its ticket');
SELECT is((SELECT (status, final_priority)::text FROM cases WHERE call_id = 'FD-C5'),
          '(open,)', 'reopened, no decision at close');

-- the report's list is bounded; raised_total counts every raised case
UPDATE cases SET status = 'closed', closed_at = now(), final_priority = 1,
                 first_priority = 3, first_at = now(), closed_auto = false
 WHERE id IN (SELECT id FROM cases ORDER BY id LIMIT 3);
SELECT is((SELECT (r->'triage'->>'raised_total', jsonb_array_length(r->'triage'->'raised'))::text
             FROM h111_console_report_triage(NULL, NULL, 2) r), '(3,2)',
          'at most p_limit listed, all counted');
SELECT is((SELECT r->'triage'->'raised'->0->>'case' FROM h111_console_report_triage(NULL, NULL, 2) r),
          (SELECT min(id)::text FROM cases), 'most raised, then by case number');
SELECT is((SELECT r->'triage'->>'closed' FROM h111_console_report_triage(
              (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date + 1, NULL, 10) r), '0',
          'nothing closed after today');

SELECT * FROM finish();
ROLLBACK;
