#!/usr/bin/env bash
# The test services for `cargo test`, one script per service (tests/setup/<name>.sh):
# each says at its top what it starts, which system server it changes and how, and the
# DRIFTWATCH_TEST_* port variable(s) it reads; docs/development.md lists them all.
#
# Usage (as root):  bash tests/setup/services.sh [up|check|stop]
#   up     (default) check every port first; when one is held by a server that is not
#          ours, say which and the variable that moves it, and stop before changing
#          anything. Then bring each service up, announcing each change with `will`
#          before making it, and end with how many changes there were.
#   check  only the first half: change nothing.
#   stop   stop what the setup started (by pid file), never a system server
#          (tests/setup/stop-services.sh does this).
#
# Idempotent: starts what is stopped, recreates what is ours and broken, leaves what
# works alone; a second run changes nothing and says so. Binds 127.0.0.1 only.
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")
HERE=$(dirname "${BASH_SOURCE[0]}")

# One line per service: adding one is a new tests/setup/<name>.sh (modes up, check,
# stop; see docs/development.md) and its line here. Brought up in this order, stopped
# in the reverse one.
SERVICES=(
    postgres  # system PostgreSQL 15 (pg_hba.conf line, roles) + streaming replica
    mariadb   # system MariaDB (binary logging option file, one restart, users) + GTID replica
    s3        # moto, an S3-compatible server, in a virtualenv
    redis     # system Redis (ACL users) + replica
    memcached # memcached
    pgbouncer # PgBouncer in front of the system PostgreSQL
)

require_root "the services' scripts need it"
DRIFTWATCH_SETUP_PORTS=$(mktemp)
DRIFTWATCH_SETUP_CHANGES=$(mktemp)
DRIFTWATCH_SETUP_SUGGEST=$(mktemp)
export DRIFTWATCH_SETUP_PORTS DRIFTWATCH_SETUP_CHANGES DRIFTWATCH_SETUP_SUGGEST
trap 'rm -f "$DRIFTWATCH_SETUP_PORTS" "$DRIFTWATCH_SETUP_CHANGES" "$DRIFTWATCH_SETUP_SUGGEST"' EXIT

if [[ $MODE == stop ]]; then
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        bash "$HERE/${SERVICES[i]}.sh" stop
    done
    exit 0
fi

failed=()
for service in "${SERVICES[@]}"; do
    bash "$HERE/$service.sh" check || failed+=("$service")
done
echo "services   ports: $(awk '{ printf "%s%s=%s", s, $1, $2; s = " " }' "$DRIFTWATCH_SETUP_PORTS"); data under $DRIFTWATCH_TEST_DIR"
if ((${#failed[@]})); then
    echo "services.sh: nothing was changed: ${failed[*]} cannot start as configured (see above)." >&2
    if [[ -s $DRIFTWATCH_SETUP_SUGGEST ]]; then
        echo "services.sh: to leave those servers alone and use free ports instead:" \
            "$(awk '{ printf "%s=%s ", $1, $2 }' "$DRIFTWATCH_SETUP_SUGGEST")bash tests/run.sh" >&2
    fi
    exit 1
fi
[[ $MODE == up ]] || { echo "services   check: every port is free or held by the setup's own server"; exit 0; }

for service in "${SERVICES[@]}"; do
    bash "$HERE/$service.sh" up
done
changes=$(wc -l <"$DRIFTWATCH_SETUP_CHANGES")
if ((changes == 0)); then
    echo "services   nothing changed: every service was already up and configured"
else
    echo "services   $changes change(s), each announced above with 'will'"
fi
