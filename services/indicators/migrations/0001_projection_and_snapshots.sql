-- hub-indicators: its own projection of the contracts it consumes, and its snapshots.
-- Lives in the service's schema (search_path); never reads another service's tables.

-- Latest version of each organisation's golden record (identity.golden_record.v1).
CREATE TABLE golden_records (
    organisation_id UUID PRIMARY KEY,
    version         BIGINT NOT NULL,
    retired         BOOLEAN NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    record          JSONB NOT NULL
);

-- Latest state of each loan (source.disbursement.v1), by the source's `modified`.
CREATE TABLE loans (
    loan_no    TEXT PRIMARY KEY,
    modified   TIMESTAMPTZ NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    record     JSONB NOT NULL
);

-- Every NTM report revision seen (source.ntm_report.v1): a draft seen after a counted
-- revision must not replace it, so nothing is overwritten but a revision seen again.
CREATE TABLE ntm_revisions (
    commune_code TEXT NOT NULL,
    year         INT NOT NULL,
    revision     BIGINT NOT NULL,
    status       TEXT NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    record       JSONB NOT NULL,
    PRIMARY KEY (commune_code, year, revision)
);

-- Registry records seen (source.cooperative.v1), for provenance only: the indicators use the
-- golden records, where the registry's facts already are.
CREATE TABLE registry_records (
    source_id  TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

-- The reconciliation log (reconciliation.decision.v1), for provenance.
CREATE TABLE decisions (
    decision_id     UUID PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
    outcome         TEXT NOT NULL,
    source_system   TEXT,
    source_id       TEXT,
    organisation_id UUID,
    by_operator     BOOLEAN NOT NULL
);
CREATE INDEX decisions_by_source ON decisions (source_system, source_id, at DESC, decision_id DESC);

-- Snapshots: immutable, versioned per plan and unit list.
CREATE TABLE snapshots (
    snapshot_id  UUID PRIMARY KEY,
    plan_id      TEXT NOT NULL,
    unit_list    TEXT NOT NULL,
    version      BIGINT NOT NULL,
    as_of        DATE NOT NULL,
    computed_at  TIMESTAMPTZ NOT NULL,
    content_hash TEXT NOT NULL,
    body         JSONB NOT NULL,
    UNIQUE (plan_id, unit_list, version)
);

CREATE FUNCTION snapshots_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'indicator snapshots are immutable: % refused', TG_OP;
END;
$$;

CREATE TRIGGER snapshots_immutable
    BEFORE UPDATE OR DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION snapshots_are_immutable();
