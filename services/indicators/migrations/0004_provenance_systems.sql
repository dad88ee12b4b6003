-- Provenance names each source by the system its records say they come from
-- (meta.source.system), never by a list of systems: the registry records, the one projection
-- table without its record, keep their system too. Before this column only the registry
-- (coop-alliance) published source.cooperative.v1.
ALTER TABLE registry_records ADD COLUMN system TEXT;
UPDATE registry_records SET system = 'coop-alliance';
ALTER TABLE registry_records ALTER COLUMN system SET NOT NULL;
