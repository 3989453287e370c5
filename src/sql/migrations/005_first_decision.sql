-- hotline111 schema, migration 005: each case keeps its first automatic
-- triage decision beside what people finally decided, for `hotline111
-- report --triage` (issue 11). The triage table holds every decision as it
-- changed the case, but not the rules' own verdict where a person's choice
-- stood in its way, nor the case as it was when it closed.
--
-- first_*: what the rules made of the call (line, queue, IVR, the caller's
-- history) and of the case's first text (a ticket's or a note's), from the
-- priority the case opened at; kept once a decision has read a text
-- (first_read_text), so later notes do not move it. first_category is the
-- rules' own, even where an operator's category kept it off the case.
-- first_at is NULL while no decision has been made.
-- final_*: the case's priority and category when it closed (the latest
-- close), whatever changes after.
ALTER TABLE cases
    ADD COLUMN first_priority  h111_priority,
    ADD COLUMN first_category  text,
    ADD COLUMN first_rules     text[],
    ADD COLUMN first_at        timestamptz,
    ADD COLUMN first_read_text boolean,
    ADD COLUMN final_priority  h111_priority,
    ADD COLUMN final_category  text;

-- Cases triaged before this migration. Their first decision is the case
-- after the first triage row that read a text (a ticket event with text, a
-- console note), or after their last row when none did, with the rules of
-- the rows up to it. That is the rules' own verdict only where no person had
-- set a category or a priority by then (through the console, or a category
-- on a ticket event): elsewhere the verdict was not recorded, and the whole
-- first decision stays NULL.
WITH rows AS (
    SELECT t.*, (e.body ? 'text' OR t.event_id LIKE 'console-note-%') AS read_text
      FROM triage t LEFT JOIN events e ON e.event_id = t.event_id
), settle AS (
    SELECT case_id, coalesce(min(id) FILTER (WHERE read_text), max(id)) AS id,
           bool_or(read_text) AS read_text
      FROM rows GROUP BY case_id
), known AS (
    SELECT s.case_id, s.read_text, d.at, d.priority_after, d.category_after,
           ARRAY(SELECT r FROM triage x, unnest(x.rules) WITH ORDINALITY AS u(r, o)
                  WHERE x.case_id = s.case_id AND x.id <= s.id
                  GROUP BY r ORDER BY min(x.id), min(o)) AS rules
      FROM settle s JOIN triage d ON d.id = s.id
     WHERE NOT EXISTS (SELECT 1 FROM audit a WHERE a.case_id = s.case_id
                          AND a.action = 'case.set' AND a.at <= d.at)
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.case_id = s.case_id
                          AND e.body ? 'category' AND e.stored_at <= d.at)
)
UPDATE cases c SET first_priority = k.priority_after, first_category = k.category_after,
    first_rules = k.rules, first_at = k.at, first_read_text = k.read_text
  FROM known k WHERE c.id = k.case_id;

-- Closed cases before this migration. Closed by a ticket.closed event: the
-- case as that event found it (its triage row's "before", else the event's
-- row), exact whatever came later. Closed through the console: the case as
-- it is, where no triage, no console change and no ticket category came
-- after the close. Closed by itself (a silent call): as it is. Elsewhere
-- NULL: not known.
WITH last_close AS (
    SELECT DISTINCT ON (a.case_id) a.case_id, a.at, a.after->>'event' AS event_id
      FROM audit a WHERE a.action = 'case.close'
     ORDER BY a.case_id, a.id DESC
), by_event AS (
    SELECT l.case_id,
           coalesce(t.priority_before, e.priority) AS priority,
           CASE WHEN t.id IS NOT NULL THEN t.category_before ELSE e.category END AS category
      FROM last_close l
      JOIN events e ON e.event_id = l.event_id
      LEFT JOIN triage t ON t.event_id = l.event_id AND t.case_id = l.case_id
)
UPDATE cases c SET final_priority = b.priority, final_category = b.category
  FROM by_event b WHERE c.id = b.case_id AND c.status = 'closed';

WITH last_close AS (
    SELECT DISTINCT ON (a.case_id) a.case_id, a.at, a.after->>'event' AS event_id
      FROM audit a WHERE a.action = 'case.close'
     ORDER BY a.case_id, a.id DESC
)
UPDATE cases c SET final_priority = c.priority, final_category = c.category
  FROM last_close l
 WHERE c.id = l.case_id AND c.status = 'closed' AND l.event_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.case_id = c.id AND t.at > l.at)
   AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.case_id = c.id AND a.action = 'case.set'
                      AND a.at > l.at)
   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.id AND e.body ? 'category'
                      AND e.stored_at > l.at);

UPDATE cases SET final_priority = priority, final_category = category
 WHERE status = 'closed' AND closed_auto AND final_priority IS NULL;
