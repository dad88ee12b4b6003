-- The reconciler's state, in its own schema (search_path). No other service reads these
-- tables; the rest of the hub sees them only through the published contracts and the API.

-- Engine counters (ids derive from them) and the state sequence: every committed change
-- raises `state_seq`, so a replica whose in-memory engine is older knows to reload it.
CREATE TABLE engine_state (
    singleton         BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    state_seq         BIGINT NOT NULL DEFAULT 0,
    next_org_seq      BIGINT NOT NULL DEFAULT 0,
    next_decision_seq BIGINT NOT NULL DEFAULT 0,
    next_review_seq   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO engine_state (singleton) VALUES (TRUE);

-- Identities: one row per organisation id ever assigned.
CREATE TABLE identities (
    organisation_id UUID PRIMARY KEY,
    seq             BIGINT NOT NULL UNIQUE,
    retired         BOOLEAN NOT NULL DEFAULT FALSE,
    merged_into     UUID REFERENCES identities (organisation_id) DEFERRABLE INITIALLY DEFERRED,
    golden_version  BIGINT NOT NULL DEFAULT 0,
    golden_hash     TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    -- the current golden record (null before the first one is published)
    golden          JSONB,
    kind            TEXT,
    commune_code    TEXT,
    district_code   TEXT,
    in_registry     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX identities_live ON identities (retired, organisation_id);

-- Observations: the latest content per source reference. `organisation_id` is the
-- crosswalk (source system, source id) -> organisation.
CREATE TABLE observations (
    system          TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('active', 'out_of_scope', 'withdrawn')),
    organisation_id UUID REFERENCES identities (organisation_id) DEFERRABLE INITIALLY DEFERRED,
    observation     JSONB NOT NULL,
    -- the source contract's payload as received (NTM: the entry with its report's context)
    payload         JSONB,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (system, source_id)
);
CREATE INDEX observations_organisation ON observations (organisation_id);

CREATE VIEW crosswalk AS
    SELECT system, source_id, organisation_id, updated_at
    FROM observations
    WHERE state = 'active' AND organisation_id IS NOT NULL;

-- Golden record versions: every published version, for history.
CREATE TABLE golden_versions (
    organisation_id UUID NOT NULL REFERENCES identities (organisation_id) DEFERRABLE INITIALLY DEFERRED,
    version         BIGINT NOT NULL,
    record          JSONB NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organisation_id, version)
);

-- Review items: doubtful pairs waiting for an operator, and what was decided.
CREATE TABLE review_items (
    review_id       UUID PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('open', 'linked', 'separated', 'superseded')),
    item            JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ
);
CREATE INDEX review_items_status ON review_items (status, created_at, review_id);

-- Operator constraints between source records (a < b): they win over every later
-- automatic run.
CREATE TABLE constraints (
    a_system    TEXT NOT NULL,
    a_id        TEXT NOT NULL,
    b_system    TEXT NOT NULL,
    b_id        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('must_link', 'cannot_link')),
    operator    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    decision_id UUID NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (a_system, a_id, b_system, b_id)
);

-- The reconciliation log (personal data masked before it gets here).
CREATE TABLE decisions (
    seq             BIGSERIAL PRIMARY KEY,
    decision_id     UUID NOT NULL UNIQUE,
    at              TIMESTAMPTZ NOT NULL,
    outcome         TEXT NOT NULL,
    system          TEXT,
    source_id       TEXT,
    organisation_id UUID,
    candidate_id    UUID,
    decision        JSONB NOT NULL
);
CREATE INDEX decisions_at ON decisions (at, seq);
CREATE INDEX decisions_organisation ON decisions (organisation_id, seq);
CREATE INDEX decisions_candidate ON decisions (candidate_id, seq);
CREATE INDEX decisions_source ON decisions (system, source_id, seq);

-- Merge and split events, for an organisation's history.
CREATE TABLE identity_events (
    seq         BIGSERIAL PRIMARY KEY,
    decision_id UUID NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('merged', 'split')),
    event       JSONB NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE TABLE identity_event_orgs (
    event_seq       BIGINT NOT NULL REFERENCES identity_events (seq),
    organisation_id UUID NOT NULL,
    PRIMARY KEY (organisation_id, event_seq)
);

-- The latest revision read of each NTM report.
CREATE TABLE ntm_reports (
    commune_code TEXT NOT NULL,
    year         INT NOT NULL,
    revision     INT NOT NULL,
    entries      INT NOT NULL,
    PRIMARY KEY (commune_code, year)
);
