-- hotline111 schema, migration 006: the notifications outbox (issue 15
-- part 1). h111_fire writes one row per notification channel of the
-- escalation's level (escalation.notify in hotline111d.conf) in the same
-- transaction as the escalation, so a notification can be neither lost nor
-- invented by a crash. Daemons claim due rows with FOR UPDATE SKIP LOCKED
-- and a lease (next_at moved past the send's timeout): a daemon that dies
-- while sending leaves the row to be claimed again once the lease is over.
--
-- payload: the h111_fire record (caller whole, as the database holds it;
-- the daemon masks it as in the escalation log before it leaves).
-- channel: the name of the escalation.notify entry; a channel removed from
-- the configuration fails its rows. state: pending until sent, or failed
-- once the next try would come after give_up_at.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    escalation_id bigint NOT NULL REFERENCES escalations,
    case_id       bigint NOT NULL REFERENCES cases,
    channel       text NOT NULL,
    payload       jsonb NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      int NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    next_at       timestamptz NOT NULL DEFAULT now(),
    give_up_at    timestamptz NOT NULL,
    done_at       timestamptz,
    last_error    text,
    UNIQUE (escalation_id, channel)
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'pending';
CREATE INDEX outbox_case ON outbox (case_id);
CREATE INDEX outbox_failed ON outbox (done_at) WHERE state = 'failed';
