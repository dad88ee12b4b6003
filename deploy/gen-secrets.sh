#!/bin/sh
# Makes the secrets docker-compose needs, once, on the machine that runs it:
#   .env                       every RabbitMQ and PostgreSQL password, the service token and the
#                              (simulated) agency systems' credentials (random)
#   secrets/console-users.toml the console's users file: one admin, its password printed once
# Neither is committed (.gitignore). Run again with --force to rotate everything (then
# `docker compose down -v` to drop the volumes made with the old passwords, or rotate in place
# as SECURITY.md says). Needs openssl, and `hub` on PATH or docker (for the argon2 hash).
set -eu
cd "$(dirname "$0")/.."
force=${1:-}
if [ -e .env ] && [ "$force" != "--force" ]; then
    echo "gen-secrets: .env exists (use --force to rotate every secret)" >&2
    exit 1
fi
pw() { openssl rand -hex 16; }
# each adapter's broker user and database role, the secrets its settings name, and the
# broker user of each agency that pushes its own records
# >>> adapters: generated from the sources' registrations by `hub deploy-files`; do not edit
adapter_users="SVC_ADAPTER_COOP_ALLIANCE SVC_ADAPTER_LOAN_FUND SVC_ADAPTER_NTM SVC_ADAPTER_FARMERS_UNION"
source_secrets="COOP_ALLIANCE_API_KEY LOAN_FUND_CLIENT_SECRET NTM_PASSWORD"
agency_users="AGENCY_COOP_ALLIANCE AGENCY_LOAN_FUND AGENCY_NTM"
# <<< adapters
umask 077
{
    echo "# made by deploy/gen-secrets.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); never commit"
    echo "POSTGRES_PASSWORD=$(pw)"
    for u in $adapter_users SVC_INBOUND SVC_RECONCILER SVC_INDICATORS SVC_CONSOLE; do
        echo "RABBITMQ_PASSWORD_$u=$(pw)"
        echo "PG_PASSWORD_$u=$(pw)"
    done
    for u in $agency_users; do
        echo "RABBITMQ_PASSWORD_$u=$(pw)"
    done
    # the agency systems' credentials (compose: the simulators and the adapters share them)
    for s in $source_secrets; do
        echo "$s=$(pw)"
    done
    # the console's credential for the reconciler's, indicators' and inbound's APIs
    echo "HUB_SERVICE_TOKEN=$(openssl rand -hex 32)"
} > .env
echo "gen-secrets: wrote .env (give each agency its RABBITMQ_PASSWORD_AGENCY_* over a safe channel)"

mkdir -p secrets
admin=$(pw)
if command -v hub >/dev/null 2>&1; then
    hash=$(printf '%s' "$admin" | hub hash-password)
else
    hash=$(printf '%s' "$admin" | docker run --rm -i coophub/hub:latest hash-password)
fi
cat > secrets/console-users.toml <<USERS
# The console's users (made by deploy/gen-secrets.sh). Add users with
# \`echo -n PASSWORD | hub hash-password\`; never commit this file.
[[user]]
name = "admin"
role = "admin"
password_hash = "$hash"
USERS
echo "gen-secrets: console user admin, password $admin (shown once; secrets/console-users.toml)"
