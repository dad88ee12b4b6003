-- One hub service's PostgreSQL role: it logs in, owns its own schema (tables, migrations,
-- outbox, inbox) and has no right on any other schema, no CREATE on the database, no
-- superuser, role or database creation. Idempotent: run it again to rotate the password.
--
-- psql variables: db (database), role, schema, password. create-roles.sh runs it for every
-- service; by hand:
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -v db=coophub -v role=svc_inbound \
--        -v schema=inbound -v password="$PG_PASSWORD_SVC_INBOUND" -f deploy/postgres/role.sql
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  NOINHERIT PASSWORD :'password';

-- nobody else connects or creates by default; each role is granted what it needs
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"role";

-- the service's schema, made here (the role may not create schemas) and owned by the role;
-- a schema a superuser made before (an upgrade) is handed over with its tables
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION :"role";
ALTER SCHEMA :"schema" OWNER TO :"role";
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role')
  FROM pg_tables WHERE schemaname = :'schema' AND tableowner <> :'role' \gexec
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;
