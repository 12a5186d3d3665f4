#!/usr/bin/env bash
# Installs the programs the tests and the test services drive, from Debian packages,
# when they are missing (apt-get install --no-install-recommends; apt-get update first
# only when the package lists do not have them):
#   chromium           headless, for the report tests
#   postgresql-client  psql, pg_basebackup (postgres.sh)
#   prometheus         promtool, for the alert rules in deploy/prometheus
#   memcached          the test memcached (memcached.sh)
#   pgbouncer          PgBouncer, for the connection-pooler test service
#   curl, openssl      HTTPS and credentials against `serve` (tests/serve/access.rs)
#   wrk                the serve load test (benches/serve.rs; its smoke in .ci/run)
# and, from PyPI into a virtualenv ($DRIFTWATCH_TEST_DIR/venv-tools), DuckDB: the
# export tests query the store's analytics export with the real engine.
# It says which before installing them. Debian starts a package's own service on
# install (memcached on :11211, pgbouncer on :6432) unless /usr/sbin/policy-rc.d says
# no: when there is none, a temporary one that refuses every start is in place for the
# install only, so the test services stay the only ones on their ports. Idempotent;
# changes nothing when everything is there, and says so.
#
# Usage (as root): bash tests/setup/tools.sh      (tests/run.sh runs it)
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export DEBIAN_FRONTEND=noninteractive
LABEL="tools      packages"

# package -> the program that shows it is installed
declare -A PROGRAM=(
    [chromium]=chromium
    [postgresql-client]=psql
    [prometheus]=promtool
    [memcached]=/usr/bin/memcached
    [pgbouncer]=/usr/sbin/pgbouncer
    [curl]=curl
    [openssl]=openssl
    [wrk]=wrk
)
ORDER=(chromium postgresql-client prometheus memcached pgbouncer curl openssl wrk)

missing=()
for package in "${ORDER[@]}"; do
    command -v "${PROGRAM[$package]}" >/dev/null 2>&1 || missing+=("$package")
done

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "run as root to install ${missing[*]}"
    # Others may be installing packages: wait for the dpkg lock rather than fail.
    apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
    will "$LABEL" "install ${missing[*]} (apt-get install --no-install-recommends)"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        will "$LABEL" "put a temporary /usr/sbin/policy-rc.d (exit 101) in place during the install, so the packages' own services are not started"
        printf '#!/bin/sh\n# Temporary, from driftwatch tests/setup/tools.sh: no service starts during its install.\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    if ! apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt_get update -qq
        apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    say "$LABEL" "installed ${missing[*]}"
else
    say "$LABEL" "nothing to install (chromium, psql, promtool, memcached, pgbouncer, curl, openssl are there)"
fi
say "$LABEL" "chromium $(chromium --version 2>/dev/null | awk '{print $2}'), $(promtool --version 2>/dev/null | head -n 1 | awk '{ sub(",", "", $1); print $1, $3 }'), $(/usr/bin/memcached -V 2>/dev/null), $(/usr/sbin/pgbouncer --version 2>/dev/null | head -n 1)"

# DuckDB, for the analytics-export tests, in a virtualenv of its own.
VENV_TOOLS=$DRIFTWATCH_TEST_DIR/venv-tools
if "$VENV_TOOLS/bin/python" -c 'import duckdb' >/dev/null 2>&1; then
    say "tools      python" "duckdb $("$VENV_TOOLS/bin/python" -c 'import duckdb; print(duckdb.__version__)') in $VENV_TOOLS"
else
    will "tools      python" "create $VENV_TOOLS and pip install duckdb into it"
    mkdir -p "$DRIFTWATCH_TEST_DIR"
    python3 -m venv "$VENV_TOOLS"
    "$VENV_TOOLS/bin/pip" install -q duckdb
    say "tools      python" "installed duckdb $("$VENV_TOOLS/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
fi
