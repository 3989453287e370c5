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

