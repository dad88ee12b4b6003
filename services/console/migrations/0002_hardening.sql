-- Trust at the boundary (issue 15).

-- a session remembers the credential it was opened with (SHA-256 of the user's password
-- hash in the users file): a changed password ends the user's sessions
ALTER TABLE sessions ADD COLUMN credential_sha256 TEXT;

-- the audit log becomes append-only and hash-chained: an action's outcome is a row of its
-- own that `finishes` the row of the action; each row stores the hash of its content and of
-- the row before it (see src/chain.rs). Rows written before this migration stay unchained.
ALTER TABLE audit_log ADD COLUMN finishes  BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash      TEXT;
CREATE INDEX audit_log_finishes ON audit_log (finishes) WHERE finishes IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
