-- The Farmers' Union's workbook records (source.fu_branch.v1, source.fu_officer.v1,
-- source.fu_training.v1): every version, one per record and report date, so that a snapshot
-- as of T reads each sender's roster of its latest workbook <= T (retractions included).
CREATE TABLE fu_records (
    contract_type TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    report_date   DATE NOT NULL,
    sender        TEXT NOT NULL,
    retracted     BOOLEAN NOT NULL,
    fetched_at    TIMESTAMPTZ NOT NULL,
    record        JSONB NOT NULL,
    PRIMARY KEY (contract_type, source_id, report_date)
);
