-- Functions by job: outbox, the notifications of escalations (webhooks and
-- commands, escalation.notify in hotline111d.conf). h111_fire adds the rows
-- in its own transaction; the daemons claim them (SKIP LOCKED, a lease),
-- send them and record what came of each try.

-- One row per channel of this level in the policy (level 0: warnings).
CREATE OR REPLACE FUNCTION h111_outbox_add(p_escalation bigint, p_case bigint, p_level int,
                                           p_record jsonb, p_at timestamptz)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    pol jsonb := h111_policy();
    n int;
BEGIN
    INSERT INTO outbox (escalation_id, case_id, channel, payload, created_at, next_at,
                        give_up_at)
        SELECT p_escalation, p_case, ch->>'name', p_record, p_at, p_at,
               p_at + make_interval(secs => coalesce((pol->>'notify_give_up')::double precision,
                                                     3600))
          FROM jsonb_array_elements(coalesce(pol->'notify', '[]')) ch
         WHERE (ch->>'level')::int = p_level
        ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Claims up to p_limit due rows for p_lease_s seconds: a daemon that dies
-- while sending leaves them to whoever claims after the lease. attempts
-- counts tries and tells a late answer from a row claimed again since.
-- A last row with id NULL: when the next pending row is due.
CREATE OR REPLACE FUNCTION h111_outbox_claim(p_limit int, p_lease_s double precision)
RETURNS TABLE (id bigint, channel text, attempt int, payload jsonb, next_at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    UPDATE outbox o SET attempts = o.attempts + 1,
                        next_at = clock_timestamp() + make_interval(secs => p_lease_s)
     WHERE o.id IN (SELECT x.id FROM outbox x
                     WHERE x.state = 'pending' AND x.next_at <= clock_timestamp()
                     ORDER BY x.next_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.channel, o.attempts, o.payload, NULL::timestamptz;
    RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::int, NULL::jsonb, min(x.next_at)
                   FROM outbox x WHERE x.state = 'pending';
END $$;

-- What came of try p_attempt of row p_id: sent (p_ok), or retried in
-- p_retry_s seconds, or failed when that would come after its give_up_at
-- (or p_retry_s is NULL: no try can succeed). The new state, or NULL when
-- the row was claimed again since (its lease ran out).
CREATE OR REPLACE FUNCTION h111_outbox_done(p_id bigint, p_attempt int, p_ok boolean,
                                            p_error text, p_retry_s double precision)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o outbox%ROWTYPE;
    retry timestamptz := clock_timestamp() + make_interval(secs => p_retry_s);
BEGIN
    SELECT * INTO o FROM outbox WHERE id = p_id AND attempts = p_attempt AND state = 'pending'
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_ok THEN
        UPDATE outbox SET state = 'sent', done_at = clock_timestamp(), last_error = NULL
         WHERE id = p_id;
        RETURN 'sent';
    ELSIF p_retry_s IS NULL OR retry > o.give_up_at THEN
        UPDATE outbox SET state = 'failed', done_at = clock_timestamp(), last_error = p_error
         WHERE id = p_id;
        RETURN 'failed';
    END IF;
    UPDATE outbox SET next_at = retry, last_error = p_error WHERE id = p_id;
    RETURN 'pending';
END $$;

-- A case's notifications, for the console's show.
CREATE OR REPLACE FUNCTION h111_outbox_of(cid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('notification', o.id,
        'escalation', o.escalation_id, 'channel', o.channel, 'state', o.state,
        'attempts', o.attempts, 'created_at', h111_time(o.created_at),
        'next_at', CASE WHEN o.state = 'pending' THEN h111_time(o.next_at) END,
        'done_at', h111_time(o.done_at), 'error', o.last_error) ORDER BY o.id), '[]')
      FROM outbox o WHERE o.case_id = cid
$$;
