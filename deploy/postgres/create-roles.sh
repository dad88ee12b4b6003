#!/bin/sh
# Creates (or updates) one PostgreSQL role per hub service, each owning its own schema only
# (deploy/postgres/role.sql), with the passwords from the environment:
#
#   PG_PASSWORD_SVC_ADAPTER_<SYSTEM>       one per registered source (`adapter_roles` below)
#   PG_PASSWORD_SVC_INBOUND
#   PG_PASSWORD_SVC_RECONCILER             PG_PASSWORD_SVC_INDICATORS
#   PG_PASSWORD_SVC_CONSOLE
#
# Run as a superuser (or the database owner with CREATEROLE):
#   PGHOST=… PGUSER=postgres PGDATABASE=coophub deploy/postgres/create-roles.sh
# In docker-compose it runs once, from /docker-entrypoint-initdb.d, when the data volume is
# first made. Run it again to rotate the passwords, then restart the services with the new
# DATABASE_URLs. Each service's DATABASE_URL then names its own role:
#   postgres://svc_inbound:<password>@postgres:5432/coophub?sslmode=verify-full
set -eu
here=$(dirname "$0")
sql="${ROLE_SQL:-$here/role.sql}"
db="${PGDATABASE:-${POSTGRES_DB:-coophub}}"
# >>> adapters: generated from the sources' registrations by `hub deploy-files`; do not edit
adapter_roles="svc_adapter_coop_alliance:adapter_coop_alliance svc_adapter_loan_fund:adapter_loan_fund svc_adapter_ntm:adapter_ntm svc_adapter_farmers_union:adapter_farmers_union"
# <<< adapters
for pair in $adapter_roles \
    svc_inbound:inbound \
    svc_reconciler:reconciler \
    svc_indicators:indicators \
    svc_console:console; do
    role=${pair%%:*}
    schema=${pair#*:}
    var=PG_PASSWORD_$(echo "$role" | tr 'a-z' 'A-Z')
    password=$(printenv "$var" || true)
    if [ -z "$password" ]; then
        echo "create-roles: $var is not set (the password of role $role)" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --dbname "$db" ${POSTGRES_USER:+--username "$POSTGRES_USER"} \
        -v db="$db" -v role="$role" -v schema="$schema" -v password="$password" \
        -q -f "$sql"
    echo "create-roles: $role owns schema $schema"
done
