-- What operators did with parked events (<topic>.dlq): every replay (whatever came of it) and
-- every discard, with who, why and when. A parked event is "replayed" or "discarded" once such
-- an action succeeded; until then it is "parked".
CREATE TABLE dead_letter_actions (
    id          bigserial PRIMARY KEY,
    dlq_topic   text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    action      text        NOT NULL,   -- replay, discard
    outcome     text        NOT NULL,   -- applied, already_applied, still_failing, discarded
    reason      text        NOT NULL,
    actor       text        NOT NULL,
    detail      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_actions_record ON dead_letter_actions (dlq_topic, partition, "offset");
