-- The per-agency exchange log (issue 15): every push hub-inbound decided on, forwarded or
-- refused, one hash chain per agency user (see src/exchange_log.rs and SECURITY.md).
-- Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE exchange_log (
    id            BIGSERIAL PRIMARY KEY,
    agency        TEXT        NOT NULL,
    message_id    TEXT        NOT NULL,
    contract_type TEXT        NOT NULL,
    body_sha256   TEXT        NOT NULL,
    outcome       TEXT        NOT NULL CHECK (outcome IN ('forwarded', 'refused')),
    reason        TEXT,
    at            TIMESTAMPTZ NOT NULL,
    prev_hash     TEXT        NOT NULL,
    hash          TEXT        NOT NULL,
    -- like an inbox: a redelivered push is recorded once
    CONSTRAINT exchange_log_once UNIQUE (agency, message_id)
);
CREATE INDEX exchange_log_chain ON exchange_log (agency, id);

CREATE FUNCTION exchange_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'exchange_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER exchange_log_no_change BEFORE UPDATE OR DELETE ON exchange_log
    FOR EACH ROW EXECUTE FUNCTION exchange_log_append_only();
CREATE TRIGGER exchange_log_no_truncate BEFORE TRUNCATE ON exchange_log
    FOR EACH STATEMENT EXECUTE FUNCTION exchange_log_append_only();
