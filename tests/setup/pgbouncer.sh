#!/usr/bin/env bash
# PgBouncer test service of ours on 127.0.0.1:6432, in front of the system PostgreSQL
# (tests/setup/postgres.sh), run as the postgres user from a configuration the script
# writes into $DRIFTWATCH_TEST_DIR/pgbouncer (`-PORT` appended at another port), with
# its pid file, auth file and log there. Adopted only when the pgbouncer of that pid
# file listens on the port; rewritten and restarted when its configuration differs from
# the one below. pgbouncer itself comes from tools.sh (Debian package pgbouncer; the
# package's own service stays disabled). Changes nothing else.
#
#   DRIFTWATCH_TEST_PGBOUNCER_PORT=6432   its port
#   DRIFTWATCH_TEST_PG_PORT=5432          the PostgreSQL it pools (postgres.sh's)
#
# Databases: `postgres` (default_pool_size 20, reserve_pool_size 2) and `test` (pool_size
# 1, so a test can make a client wait). Users (auth_type scram-sha-256, plain-text
# passwords in the auth file, test-only):
#   driftwatch_pgbouncer_stats  in stats_users only: the least privilege the collector
#                               needs (SHOW CONFIG/POOLS/DATABASES/STATS/VERSION)
#   postgres                    the pooled connections' user (trust on the PostgreSQL side)
#
# Usage (as root): bash tests/setup/pgbouncer.sh [up|check|stop]   (services.sh runs it)
#   stop: stops it (by its pid file).
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

test_port DRIFTWATCH_TEST_PGBOUNCER_PORT 6432
test_port DRIFTWATCH_TEST_PG_PORT 5432
PORT=$DRIFTWATCH_TEST_PGBOUNCER_PORT
PG_PORT=$DRIFTWATCH_TEST_PG_PORT
DIR=$(instance_dir pgbouncer "$PORT" 6432)
PIDFILE=$DIR/pgbouncer.pid
INI=$DIR/pgbouncer.ini
WAIT_SECONDS=10
LABEL="pgbouncer  127.0.0.1:$PORT"
# tests/support/ports.rs has the same names and passwords.
STATS_USER=driftwatch_pgbouncer_stats
STATS_PASSWORD=driftwatch-pgbouncer-stats
POOL_PASSWORD=driftwatch-pgbouncer-postgres

config() {
    cat <<INI
;; Written by tests/setup/pgbouncer.sh: rewritten when it differs.
[databases]
postgres = host=127.0.0.1 port=$PG_PORT dbname=postgres
test = host=127.0.0.1 port=$PG_PORT dbname=test pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $DIR/userlist.txt
stats_users = $STATS_USER
pool_mode = transaction
default_pool_size = 20
reserve_pool_size = 2
max_client_conn = 100
logfile = $DIR/pgbouncer.log
pidfile = $PIDFILE
INI
}

userlist() {
    printf '"%s" "%s"\n' "$STATS_USER" "$STATS_PASSWORD" postgres "$POOL_PASSWORD"
}

answers() {
    PGPASSWORD=$STATS_PASSWORD psql -h 127.0.0.1 -p "$PORT" -U "$STATS_USER" -d pgbouncer -XAtq \
        -c 'SHOW VERSION' >/dev/null 2>&1
}
ours_up() { [[ $(port_owner "$PORT" "$PIDFILE") == ours ]] && answers; }
configured() { [[ -f $INI && $(cat "$INI") == "$(config)" && $(cat "$DIR/userlist.txt" 2>/dev/null) == "$(userlist)" ]]; }

check_ports() {
    local problems=() p
    p=$(check_ours "$PORT" "$PIDFILE" DRIFTWATCH_TEST_PGBOUNCER_PORT "the test PgBouncer (pid file $PIDFILE)") ||
        problems+=("$p")
    report_problems "${problems[@]}"
}

stop_ours() {
    local pid
    pid=$(pidfile_pid "$PIDFILE")
    [[ -n $pid ]] || return 0
    kill -TERM "$pid"
    WAIT_SECONDS=10 wait_for eval '! pid_running '"$pid" || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
}

case $MODE in
    check)
        require_root "needs the pid file"
        check_ports
        ;;
    up)
        require_root "starts pgbouncer as the postgres user"
        [[ -x /usr/sbin/pgbouncer ]] || die "pgbouncer is not installed: bash tests/setup/tools.sh installs it"
        check_ports || exit 1
        if configured && ours_up; then
            say "$LABEL" "already running (pid file $PIDFILE)"
            exit 0
        fi
        if [[ $(port_owner "$PORT" "$PIDFILE") == ours ]]; then
            will "$LABEL" "stop our pgbouncer: its configuration ($INI) is not the one it should have, or it does not answer"
            stop_ours
        fi
        will "$LABEL" "write $INI and its auth file, start pgbouncer (user postgres, pid file $PIDFILE) in front of 127.0.0.1:$PG_PORT"
        install -d -o postgres -m 0700 "$DIR"
        config | install -o postgres -m 0600 /dev/stdin "$INI"
        userlist | install -o postgres -m 0600 /dev/stdin "$DIR/userlist.txt"
        runuser -u postgres -- /usr/sbin/pgbouncer -q -d "$INI"
        wait_for ours_up || die "not answering on 127.0.0.1:$PORT after ${WAIT_SECONDS}s (log: $DIR/pgbouncer.log)"
        say "$LABEL" "started (user postgres, pid file $PIDFILE, pools 127.0.0.1:$PG_PORT)"
        ;;
    stop)
        require_root "needs the pid file"
        if [[ -n $(pidfile_pid "$PIDFILE") ]]; then
            stop_ours
            say "$LABEL" "stopped"
        else
            say "$LABEL" "not running"
        fi
        ;;
esac
