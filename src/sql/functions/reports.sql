-- Functions by job: reports, the figures the hotline publishes.

-- The figures the hotline publishes, for dates inclusive in its time zone.
CREATE OR REPLACE FUNCTION h111_console_report(p_from date, p_to date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH span AS (
        SELECT (p_from::timestamp AT TIME ZONE h111_tz()) AS lo,
               ((p_to + 1)::timestamp AT TIME ZONE h111_tz()) AS hi
    ), calls AS (
        SELECT c.* FROM cases c, span
         WHERE c.offered_at >= span.lo AND c.offered_at < span.hi
    ), opened AS (
        SELECT c.* FROM cases c, span
         WHERE c.opened_at >= span.lo AND c.opened_at < span.hi
           AND NOT c.closed_auto
    )
    SELECT jsonb_build_object('from', p_from, 'to', p_to,
        'calls', (SELECT jsonb_build_object(
            'received', count(*),
            'answered', count(*) FILTER (WHERE answered_at IS NOT NULL),
            'abandoned', count(*) FILTER (WHERE answered_at IS NULL
                                            AND (abandoned_at IS NOT NULL OR ended_at IS NOT NULL)),
            'answered_within_20s', count(*) FILTER (WHERE answered_at - offered_at
                                                      <= interval '20 seconds'))
            FROM calls),
        'cases', (SELECT jsonb_build_object(
            'opened', count(*),
            'referred', count(*) FILTER (WHERE referred_at IS NOT NULL),
            'closed', count(*) FILTER (WHERE status = 'closed'),
            'by_category', (SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM
                (SELECT coalesce(category, 'none') AS k, count(*) AS n FROM opened
                  GROUP BY 1) x),
            'by_province', (SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM
                (SELECT coalesce(province, 'unknown') AS k, count(*) AS n FROM opened
                  GROUP BY 1) y))
            FROM opened))
$$;


-- Triage against people (report --triage): over the cases closed in the
-- period (dates inclusive in the hotline's time zone, either end open when
-- NULL), but those that closed by themselves (silent calls: nobody decided
-- anything), the first automatic decision (cases.first_*) beside the case
-- at its close (cases.final_*). A case lacking either, triaged or closed
-- before migration 005 where that could not be derived, is counted in
-- not_compared and nowhere else. A category the rules did not name is
-- "none". raised: the cases closed more urgent than the rules first left
-- them, most raised first, at most p_limit of them (raised_total counts
-- all); by is "person" where someone raised the priority through the
-- console, "triage" where only a later text's decision did.
CREATE OR REPLACE FUNCTION h111_console_report_triage(p_from date, p_to date, p_limit int)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH span AS (
        SELECT p_from::timestamp AT TIME ZONE h111_tz() AS lo,
               (p_to + 1)::timestamp AT TIME ZONE h111_tz() AS hi
    ), closed AS (
        SELECT c.* FROM cases c, span
         WHERE c.status = 'closed' AND NOT c.closed_auto
           AND (span.lo IS NULL OR c.closed_at >= span.lo)
           AND (span.hi IS NULL OR c.closed_at < span.hi)
    ), cmp AS (
        SELECT id, first_priority AS fp, final_priority AS pp, first_rules, first_category,
               final_category, coalesce(first_category, 'none') AS fc, coalesce(final_category, 'none') AS pc
          FROM closed WHERE first_at IS NOT NULL AND final_priority IS NOT NULL
    ), raised AS (
        SELECT m.*, EXISTS (SELECT 1 FROM audit a WHERE a.case_id = m.id
                               AND a.action = 'case.set'
                               AND (a.after->>'priority')::int < (a.before->>'priority')::int)
                    AS by_person
          FROM cmp m WHERE m.pp < m.fp
    )
    SELECT jsonb_build_object('from', p_from, 'to', p_to, 'triage', jsonb_build_object(
        'closed', (SELECT count(*) FROM closed),
        'compared', (SELECT count(*) FROM cmp),
        'not_compared', (SELECT count(*) FROM closed) - (SELECT count(*) FROM cmp),
        'category', (SELECT jsonb_build_object('n', count(*),
            'agree', count(*) FILTER (WHERE fc = pc),
            'agree_pct', round(100.0 * count(*) FILTER (WHERE fc = pc) / nullif(count(*), 0), 1))
            FROM cmp),
        'priority', (SELECT jsonb_build_object('n', count(*),
            'exact', count(*) FILTER (WHERE fp = pp),
            'exact_pct', round(100.0 * count(*) FILTER (WHERE fp = pp) / nullif(count(*), 0), 1),
            'rules_lower', count(*) FILTER (WHERE fp > pp),
            'rules_lower_pct', round(100.0 * count(*) FILTER (WHERE fp > pp)
                                     / nullif(count(*), 0), 1),
            'rules_higher', count(*) FILTER (WHERE fp < pp),
            'rules_higher_pct', round(100.0 * count(*) FILTER (WHERE fp < pp)
                                      / nullif(count(*), 0), 1))
            FROM cmp),
        'confusion', (SELECT coalesce(jsonb_object_agg(fc, finals), '{}') FROM
            (SELECT fc, jsonb_object_agg(pc, n) AS finals FROM
                (SELECT fc, pc, count(*) AS n FROM cmp GROUP BY fc, pc) x GROUP BY fc) y),
        'raised_total', (SELECT count(*) FROM raised),
        'raised', (SELECT coalesce(jsonb_agg(jsonb_build_object('case', id,
                'first_priority', fp, 'final_priority', pp,
                'first_category', first_category, 'final_category', final_category,
                'rules', to_jsonb(first_rules),
                'by', CASE WHEN by_person THEN 'person' ELSE 'triage' END)
                ORDER BY fp - pp DESC, pp, id), '[]')
            FROM (SELECT * FROM raised ORDER BY fp - pp DESC, pp, id LIMIT p_limit) r)))
$$;
