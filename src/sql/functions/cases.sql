-- Functions by job: cases, what changes a case whoever asks (the bridge,
-- the console, the daemon itself).

-- The one way a case closes: a ticket.closed event, the console's close,
-- and a silent P4 call that closes itself (p_auto) all come here. An
-- outcome outside h111_outcome is refused by the domain. A referral (the
-- outcome referred, or an organisation named) starts the plan clock. The
-- case's priority and category at its latest close are kept (final_*) for
-- report --triage, whatever changes after.
CREATE OR REPLACE FUNCTION h111_close(cid bigint, p_outcome h111_outcome, p_referred_to text,
                                      p_at timestamptz, p_auto boolean) RETURNS cases
LANGUAGE plpgsql AS $$
DECLARE
    c cases;
BEGIN
    UPDATE cases SET status = 'closed', outcome = p_outcome,
        referred_to = coalesce(p_referred_to, referred_to),
        referred_at = CASE WHEN p_outcome = 'referred' OR p_referred_to IS NOT NULL
                           THEN coalesce(referred_at, p_at) ELSE referred_at END,
        closed_at = coalesce(closed_at, p_at), closed_auto = p_auto, updated_at = now(),
        final_priority = priority, final_category = category
      WHERE id = cid RETURNING * INTO c;
    RETURN c;
END $$;

-- The case, to read (h111_case) or to change (h111_case_for_update), or
-- not_found.
CREATE OR REPLACE FUNCTION h111_case(cid bigint) RETURNS cases LANGUAGE plpgsql STABLE AS $$
DECLARE
    c cases;
BEGIN
    SELECT * INTO c FROM cases WHERE id = cid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case % not found', cid USING ERRCODE = 'H1404';
    END IF;
    RETURN c;
END $$;

CREATE OR REPLACE FUNCTION h111_case_for_update(cid bigint) RETURNS cases LANGUAGE plpgsql AS $$
DECLARE
    c cases;
BEGIN
    SELECT * INTO c FROM cases WHERE id = cid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case % not found', cid USING ERRCODE = 'H1404';
    END IF;
    RETURN c;
END $$;
