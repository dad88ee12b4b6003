-- File sources (workbooks uploaded rather than pulled): what each sender's roster holds,
-- and every upload, in the adapter's own schema. Unused by HTTP-pull adapters.

-- The records a sender's latest accepted workbook listed (or retracted): the last data
-- published for each, so that a later workbook without it retracts it with these values.
CREATE TABLE file_rows (
    source_id       TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    contract_type   TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    data            JSONB NOT NULL,
    retracted       BOOLEAN NOT NULL DEFAULT false,
    workbook_hash   TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX file_rows_sender ON file_rows (sender) WHERE NOT retracted;

-- Every upload (accepted, duplicate or refused): who uploaded it, the file's SHA-256, the
-- sender and report date it declared, and the report the uploader was given. Append-only.
CREATE TABLE file_uploads (
    id              BIGSERIAL PRIMARY KEY,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    uploaded_by     TEXT NOT NULL,
    file_names      TEXT[] NOT NULL,
    file_hash       TEXT NOT NULL,
    bytes           BIGINT NOT NULL,
    sender          TEXT,
    report_date     DATE,
    outcome         TEXT NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'refused')),
    report          JSONB NOT NULL
);

CREATE INDEX file_uploads_hash ON file_uploads (file_hash) WHERE outcome = 'accepted';
CREATE INDEX file_uploads_sender ON file_uploads (sender, report_date) WHERE outcome = 'accepted';

CREATE FUNCTION file_uploads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'file_uploads is append-only';
END $$;

CREATE TRIGGER file_uploads_append_only BEFORE UPDATE OR DELETE ON file_uploads
    FOR EACH ROW EXECUTE FUNCTION file_uploads_append_only();
