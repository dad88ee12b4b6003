-- An adapter's own state, in its own schema (adapter_<system>).

-- Where the last committed page ended: a compound watermark (timestamp, key).
CREATE TABLE checkpoint (
    system          TEXT PRIMARY KEY,
    watermark_ts    TIMESTAMPTZ NOT NULL,
    watermark_key   TEXT NOT NULL,
    pages           BIGINT NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every record read and committed: its content hash (dedup), the source's own change
-- marker where it has one (NTM: revision and status), the message it was published as, or
-- why it could not be.
CREATE TABLE records (
    source_id       TEXT PRIMARY KEY,
    content_hash    TEXT NOT NULL,
    marker          TEXT,
    message_id      TEXT,
    invalid_reason  TEXT,
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX records_invalid ON records (source_id) WHERE invalid_reason IS NOT NULL;
