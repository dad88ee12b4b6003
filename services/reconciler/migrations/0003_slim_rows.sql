-- Issue 18: slimmer rows. A golden record is stored once, in `golden_versions` (the current
-- one is the version its identity names, `identities.golden_version`), no longer also in
-- `identities.golden`; and an observation no longer keeps its source payload as received
-- (nothing read it: the engine rebuilds from `observation`, the payload is the sources'
-- and the broker's).

-- every current golden record is in the history already (both were written in the same
-- transaction); make sure before the copy goes
INSERT INTO golden_versions (organisation_id, version, record, at)
    SELECT organisation_id, golden_version, golden, updated_at
    FROM identities
    WHERE golden IS NOT NULL
ON CONFLICT DO NOTHING;

ALTER TABLE identities DROP COLUMN golden;
ALTER TABLE observations DROP COLUMN payload;
