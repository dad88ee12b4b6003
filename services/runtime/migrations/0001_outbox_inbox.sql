-- The runtime's own tables, created in each service's schema (search_path).

-- Transactional outbox: rows written in the same transaction as the state change that
-- caused them, published by the relay with confirms, then deleted.
CREATE TABLE IF NOT EXISTS outbox (
    seq          BIGSERIAL PRIMARY KEY,
    message_id   TEXT NOT NULL,
    exchange     TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    contract_type TEXT NOT NULL,
    body         BYTEA NOT NULL,
    headers      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Idempotent inbox: a message id takes effect once per consumer, in the same transaction
-- as its effect.
CREATE TABLE IF NOT EXISTS inbox (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
