-- Functions by job: util, what the other files share (the policy, the
-- hotline's time, the audit trail, case alerts).
--
-- Every file in src/sql/functions/ is applied, in the order of the
-- Makefile's FUNCTIONS, with CREATE OR REPLACE at every start and by
-- --migrate, after the migrations and under the same advisory lock; an
-- h111_ function none of them defines any more is dropped then. So edit
-- these files in place: no old body can survive an upgrade. SQL-language
-- bodies are checked when created, so a file comes after what its SQL
-- functions call.

-- plpgsql keeps its plan for the session; an SQL function with a FROM
-- would be planned at every call.
CREATE OR REPLACE FUNCTION h111_policy() RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT value FROM settings WHERE key = 'escalation');
END $$;

CREATE OR REPLACE FUNCTION h111_tz() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(h111_policy()->>'tz', 'UTC')
$$;

-- RFC 3339 in the hotline's time zone, as the console shows times. In
-- plpgsql: one look at the policy and plans kept for the session (the
-- intake transaction calls it for every event).
CREATE OR REPLACE FUNCTION h111_time(t timestamptz) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    local timestamp := t AT TIME ZONE coalesce(h111_policy()->>'tz', 'UTC');
    off int := extract(epoch FROM local - (t AT TIME ZONE 'UTC'))::int;
BEGIN
    RETURN to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN off < 0 THEN '-' ELSE '+' END
        || to_char(abs(off) / 3600, 'FM00') || ':' || to_char(abs(off) % 3600 / 60, 'FM00');
END $$;

-- The alert every console hears of a change to a case (LISTEN hotline111).
CREATE OR REPLACE FUNCTION h111_case_brief(c cases, change text, actor text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('ts', h111_time(now()), 'case', c.id, 'priority', c.priority,
        'category', c.category, 'status', c.status, 'operator', c.operator, 'change', change,
        'by', actor)
$$;

CREATE OR REPLACE FUNCTION h111_publish(c cases, change text, actor text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('hotline111', jsonb_build_object('alert', 'case',
        'case', h111_case_brief(c, change, actor))::text)
$$;

-- A case changed hands not by its owner's doing (assign, a claim that
-- takes it over, a release by a supervisor): the previous owner, and a new
-- owner who did not take it himself, are told. A notice goes only to the
-- consoles of the operator it names (the daemons deliver it so).
CREATE OR REPLACE FUNCTION h111_tell_owners(c cases, change text, actor text, prev text)
RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('hotline111', jsonb_build_object('alert', 'notice', 'notice',
        h111_case_brief(c, change, actor) || jsonb_build_object('to', who,
            'previous', prev))::text)
      FROM (VALUES (prev), (c.operator)) w(who)
     WHERE who IS NOT NULL AND who <> actor AND prev IS DISTINCT FROM c.operator
$$;

-- A console change: actor is the operator's name; the audit trail says
-- where it came from.
CREATE OR REPLACE FUNCTION h111_audit(actor text, peer text, action text, cid bigint,
                                      before jsonb, after jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit (actor, peer, action, case_id, before, after)
        VALUES ('console:' || actor, peer, action, cid, before, after)
$$;
