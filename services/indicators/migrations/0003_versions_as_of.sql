-- Versions for snapshots as of a past date (src/asof.rs): the registry facts of every
-- registry record version (by the registry's updated_at: from when they hold), and every
-- version of every loan (by the fund's `modified`). The latest-only tables stay for
-- provenance.
CREATE TABLE registry_versions (
    source_id  TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    facts      JSONB NOT NULL,
    PRIMARY KEY (source_id, version)
);

CREATE TABLE loan_versions (
    loan_no    TEXT NOT NULL,
    modified   TIMESTAMPTZ NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    record     JSONB NOT NULL,
    PRIMARY KEY (loan_no, modified)
);

-- the latest state held so far is the one version known of each loan
INSERT INTO loan_versions (loan_no, modified, fetched_at, record)
SELECT loan_no, modified, fetched_at, record FROM loans;
