-- hub-console's own schema `console`: sessions (browser cookies and CLI tokens) and the
-- operators' audit log. Nothing else lives here; no other service reads it.

CREATE TABLE sessions (
    -- SHA-256 (hex) of the secret; the secret itself is never stored
    secret_sha256 TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
    kind          TEXT NOT NULL CHECK (kind IN ('cookie', 'token')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- every operator action: who, when, what, on which target, and how it ended
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT 'pending',
    detail      JSONB NOT NULL DEFAULT '{}'::jsonb,
    finished_at TIMESTAMPTZ
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
