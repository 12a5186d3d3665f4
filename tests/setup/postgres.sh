#!/usr/bin/env bash
# PostgreSQL test services: the system PostgreSQL 15 cluster on 127.0.0.1:5432 as
# primary, a least-privilege auditor role and a role with no grants on it, and a
# streaming replica of ours on 127.0.0.1:5433.
#
#   DRIFTWATCH_TEST_PG_PORT=5432          the system cluster's port (pg_lsclusters finds
#                                         the PostgreSQL 15 cluster configured for it)
#   DRIFTWATCH_TEST_PG_REPLICA_PORT=5433  the replica's port
#
# On the system cluster, each announced with `will` before it is made:
#   - starts it (`pg_ctlcluster 15 <cluster> start`) when it is down;
#   - inserts `host replication all 127.0.0.1/32 trust` before the first rule of its
#     pg_hba.conf and reloads, when the line is missing (and takes it out again if the
#     server then reports an invalid file);
#   - creates the roles driftwatch_auditor (LOGIN, member of pg_monitor) and
#     driftwatch_unprivileged (LOGIN, no grants), and the database `test` (the
#     database PgBouncer pools in the tests; nothing writes into it), when missing;
#   - creates the physical replication slot the replica streams from.
# Ours: the replica, its data in $DRIFTWATCH_TEST_DIR/pg-replica and slot
# driftwatch_ci_replica (both with `-PORT`/`_PORT` appended at another port). It is
# adopted only when the postmaster of that data dir is what listens on the port and it
# streams through that slot; something else on the port, or on the slot, stops the
# setup before it changes anything.
#
# Usage (as root): bash tests/setup/postgres.sh [up|check|stop]   (services.sh runs it)
#   stop: stops the replica (data kept); never the system cluster.
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
test_port DRIFTWATCH_TEST_PG_PORT 5432
test_port DRIFTWATCH_TEST_PG_REPLICA_PORT 5433
PRIMARY_PORT=$DRIFTWATCH_TEST_PG_PORT
REPLICA_PORT=$DRIFTWATCH_TEST_PG_REPLICA_PORT
REPLICA_DIR=$(instance_dir pg-replica "$REPLICA_PORT" 5433)
if [[ $REPLICA_PORT == 5433 ]]; then
    SLOT=driftwatch_ci_replica
else
    SLOT=driftwatch_ci_replica_$REPLICA_PORT
fi
AUDITOR=driftwatch_auditor
UNPRIVILEGED=driftwatch_unprivileged
TEST_DATABASE="test"
HBA_LINE='host replication all 127.0.0.1/32 trust'
WAIT_SECONDS=60
PRIMARY="postgres   127.0.0.1:$PRIMARY_PORT"
REPLICA="postgres   replica 127.0.0.1:$REPLICA_PORT"

as_postgres() { runuser -u postgres -- "$@"; }
primary_sql() { psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
replica_sql() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
die() {
    echo "$SCRIPT: $*" >&2
    if [[ -f $REPLICA_DIR/log/postgresql.log ]]; then
        echo "--- last lines of $REPLICA_DIR/log/postgresql.log ---" >&2
        tail -n 30 "$REPLICA_DIR/log/postgresql.log" >&2
    fi
    exit 1
}

# --- primary -------------------------------------------------------------------------

# The PostgreSQL 15 cluster configured for PRIMARY_PORT: "<name> <data dir>", or nothing.
system_cluster() {
    pg_lsclusters -h 2>/dev/null |
        awk -v v="$PG_VERSION" -v p="$PRIMARY_PORT" '$1 == v && $3 == p { print $2, $6; exit }'
}
read -r CLUSTER PRIMARY_DATA < <(system_cluster) || true
CLUSTER=${CLUSTER:-} PRIMARY_DATA=${PRIMARY_DATA:-}
PRIMARY_PIDFILE=${PRIMARY_DATA:-/nonexistent}/postmaster.pid

# Up when the cluster's own postmaster listens on the port and accepts connections.
primary_up() {
    pid_listens "$PRIMARY_PORT" "$(pidfile_pid "$PRIMARY_PIDFILE")" &&
        pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT"
}

ensure_primary() {
    local did=()
    if ! primary_up; then
        will "$PRIMARY" "start the system PostgreSQL $PG_VERSION/$CLUSTER (pg_ctlcluster $PG_VERSION $CLUSTER start)"
        pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$CLUSTER" start ||
            die "primary: pg_ctlcluster $PG_VERSION $CLUSTER start failed"
        wait_for primary_up || die "primary: no answer on 127.0.0.1:$PRIMARY_PORT after ${WAIT_SECONDS}s"
        did+=("started")
    fi
    local hba errors
    hba=$(primary_sql "SHOW hba_file")
    errors() { primary_sql "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"; }
    if ! grep -qxF "$HBA_LINE" "$hba"; then
        errors=$(errors)
        [[ $errors == 0 ]] || die "primary: $hba has $errors invalid line(s); fix them first (nothing changed)"
        # First matching line wins: put ours before the first rule, so a stock
        # `host replication all 127.0.0.1/32 scram-sha-256` cannot shadow it.
        local first_rule before
        first_rule=$(grep -nvE '^[[:space:]]*(#|$)' "$hba" | head -n 1 | cut -d: -f1 || true)
        will "$PRIMARY" "insert '$HBA_LINE' into $hba (${first_rule:+before line $first_rule, }its first rule) and reload, so the replica can stream"
        before=$(mktemp)
        cp -p "$hba" "$before"
        if [[ -n $first_rule ]]; then
            sed -i "${first_rule}i ${HBA_LINE}" "$hba"
        else
            echo "$HBA_LINE" >>"$hba"
        fi
        primary_sql 'SELECT pg_reload_conf()' >/dev/null
        errors=$(errors)
        if [[ $errors != 0 ]]; then
            cat "$before" >"$hba"
            rm -f "$before"
            primary_sql 'SELECT pg_reload_conf()' >/dev/null
            die "primary: $hba had $errors invalid line(s) after the edit; restored it and reloaded"
        fi
        rm -f "$before"
        did+=("allowed replication from 127.0.0.1 in $hba and reloaded")
    fi
    local summary
    summary=$(joined "${did[@]}")
    say "$PRIMARY" "system $PG_VERSION/$CLUSTER, ${summary:-already running, replication allowed}"
}

ensure_auditor() {
    local role label="postgres   role $AUDITOR"
    role=$(primary_sql "SELECT rolsuper::text || ' ' || pg_has_role(oid, 'pg_monitor', 'MEMBER')::text
                        FROM pg_roles WHERE rolname = '$AUDITOR'")
    case $role in
        "")
            will "$label" "create it (LOGIN, member of pg_monitor)"
            primary_sql "CREATE ROLE $AUDITOR LOGIN IN ROLE pg_monitor" >/dev/null
            say "$label" "created"
            ;;
        "false false")
            will "$label" "grant it pg_monitor"
            primary_sql "GRANT pg_monitor TO $AUDITOR" >/dev/null
            say "$label" "granted pg_monitor"
            ;;
        "false true") say "$label" "already present (LOGIN, member of pg_monitor)" ;;
        *) die "auditor: $AUDITOR is a superuser; least-privilege tests would prove nothing" ;;
    esac
}

# A login role with no grants, for the test that the missing-privilege error names them.
ensure_unprivileged() {
    local label="postgres   role $UNPRIVILEGED"
    if [[ -z $(primary_sql "SELECT 1 FROM pg_roles WHERE rolname = '$UNPRIVILEGED'") ]]; then
        will "$label" "create it (LOGIN, no grants)"
        primary_sql "CREATE ROLE $UNPRIVILEGED LOGIN" >/dev/null
        say "$label" "created"
    else
        say "$label" "already present (LOGIN, no grants)"
    fi
}

# The database PgBouncer pools in the tests (they only read; see docs/development.md).
ensure_test_database() {
    local label="postgres   database $TEST_DATABASE"
    if [[ -z $(primary_sql "SELECT 1 FROM pg_database WHERE datname = '$TEST_DATABASE'") ]]; then
        will "$label" "create it (owner postgres), the database PgBouncer pools in the tests"
        primary_sql "CREATE DATABASE $TEST_DATABASE" >/dev/null
        say "$label" "created"
    else
        say "$label" "already present"
    fi
}

# --- replica -------------------------------------------------------------------------

replica_pid() { pidfile_pid "$REPLICA_DIR/postmaster.pid"; }
replica_running() { [[ -n $(replica_pid) ]]; }
replica_listening() { pid_listens "$REPLICA_PORT" "$(replica_pid)"; }

# Ours, in recovery, and streaming through our slot.
replica_streaming() {
    replica_listening &&
        [[ $(replica_sql "SELECT pg_is_in_recovery() AND coalesce((SELECT status = 'streaming'
                 AND slot_name = '$SLOT' FROM pg_stat_wal_receiver), false)" 2>/dev/null) == t ]]
}

# Why an existing replica data dir cannot stream from this primary, or nothing.
replica_broken_reason() {
    [[ -f $REPLICA_DIR/PG_VERSION && -f $REPLICA_DIR/standby.signal ]] ||
        { echo "not a standby data dir"; return; }
    grep -q '^# Written by tests/setup/' "$REPLICA_DIR/postgresql.conf" 2>/dev/null ||
        { echo "not configured by this setup"; return; }
    local mine theirs
    mine=$("$PG_BIN/pg_controldata" "$REPLICA_DIR" 2>/dev/null |
        sed -n 's/^Database system identifier:[[:space:]]*//p')
    theirs=$(primary_sql "SELECT system_identifier FROM pg_control_system()")
    [[ -n $mine && $mine == "$theirs" ]] ||
        { echo "system identifier ${mine:-unreadable} (primary: $theirs)"; return; }
    [[ $(primary_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'") == 1 ]] ||
        { echo "slot $SLOT is missing on the primary"; return; }
}

# The problem when a process other than our replica streams through our slot.
slot_problem() {
    local user
    user=$(primary_sql "SELECT coalesce(r.application_name, '?') || ' from ' || coalesce(host(r.client_addr), 'local')
                               || ':' || coalesce(r.client_port::text, '?') || ', walsender pid ' || s.active_pid
                        FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
                        WHERE s.slot_name = '$SLOT' AND s.active")
    [[ -n $user ]] || return 0
    replica_streaming && return 0
    echo "the replication slot $SLOT on 127.0.0.1:$PRIMARY_PORT is in use by $user, which is not" \
        "the test replica ($REPLICA_DIR). The setup leaves it alone: stop that replica, or move" \
        "ours with DRIFTWATCH_TEST_PG_REPLICA_PORT=$(free_port_above "$REPLICA_PORT") (the slot name carries the port)."
}

# Settings the standby must match or exceed, read from the primary each time.
write_replica_config() {
    local capacity
    capacity=$(primary_sql "SELECT string_agg(name || ' = ' || setting, E'\n' ORDER BY name)
        FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',
        'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')")
    cat >"$REPLICA_DIR/postgresql.conf" <<EOF
# Written by tests/setup/postgres.sh; standalone from /etc/postgresql.
hba_file = '$REPLICA_DIR/pg_hba.conf'
ident_file = '$REPLICA_DIR/pg_ident.conf'
unix_socket_directories = '$REPLICA_DIR'
hot_standby = on
ssl = off
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
$capacity
EOF
    cat >"$REPLICA_DIR/postgresql.auto.conf" <<EOF
# Written by tests/setup/postgres.sh. The password is ignored (trust auth); it is
# here so tests can prove that redaction hides it.
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres password=driftwatch-test-secret application_name=$SLOT'
primary_slot_name = '$SLOT'
hot_standby_feedback = on
EOF
    cat >"$REPLICA_DIR/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
    : >"$REPLICA_DIR/pg_ident.conf"
    mkdir -p "$REPLICA_DIR/log"
    # Created before the chown: start_replica appends pg_ctl's stderr to it as root,
    # and a log file root created there would lock the postgres-run server out of it.
    touch "$REPLICA_DIR/log/postgresql.log"
    chown -R postgres:postgres "$REPLICA_DIR"
    chmod 0700 "$REPLICA_DIR"
}

start_replica() {
    write_replica_config
    as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_DIR/log/postgresql.log" \
        -o "-c config_file=$REPLICA_DIR/postgresql.conf" -w -t "$WAIT_SECONDS" start \
        >/dev/null 2>>"$REPLICA_DIR/log/postgresql.log"
}

stop_replica() {
    if replica_running; then
        as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -m fast -w stop >/dev/null
    fi
}

create_replica() {
    stop_replica
    rm -rf "$REPLICA_DIR"
    mkdir -p "$(dirname "$REPLICA_DIR")"
    # A leftover slot would pin WAL and make -C fail: drop it (it must be idle).
    primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                 WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
    [[ $(primary_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'") == 0 ]] ||
        die "replica: slot $SLOT on the primary is in use by another process"
    install -d -o postgres -g postgres -m 0700 "$REPLICA_DIR"
    # --checkpoint=fast: the default spread checkpoint makes a fresh setup wait for most
    # of checkpoint_timeout (minutes) before the copy starts.
    as_postgres pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DIR" \
        -R -C -S "$SLOT" -X stream --checkpoint=fast --no-password
    start_replica
}

ensure_replica() {
    if replica_streaming; then
        say "$REPLICA" "already streaming from 127.0.0.1:$PRIMARY_PORT (slot $SLOT, data $REPLICA_DIR)"
        return
    fi
    local problem
    problem=$(check_ours "$REPLICA_PORT" "$REPLICA_DIR/postmaster.pid" DRIFTWATCH_TEST_PG_REPLICA_PORT \
        "the test replica (data $REPLICA_DIR)") || die "$problem"
    problem=$(slot_problem)
    [[ -z $problem ]] || die "$problem"
    local state="" reason=missing
    if [[ -d $REPLICA_DIR ]]; then
        reason=$(replica_broken_reason)
    fi
    if [[ -z $reason ]] && replica_running && ! wait_for replica_listening; then
        will "$REPLICA" "stop the replica (pid $(replica_pid)): it runs from $REPLICA_DIR but does not listen on :$REPLICA_PORT"
        stop_replica
    fi
    if [[ -z $reason ]]; then
        if replica_running; then
            state="was running, now streaming"
        else
            will "$REPLICA" "start it from its data dir $REPLICA_DIR"
            if start_replica; then state="started"; else reason="state not start"; fi
        fi
        if [[ -z $reason ]] && ! wait_for replica_streaming; then
            reason="not streaming after ${WAIT_SECONDS}s"
        fi
    fi
    if [[ -n $reason ]]; then
        if [[ $reason == missing ]]; then
            will "$REPLICA" "create it in $REPLICA_DIR with pg_basebackup and a new slot $SLOT on the primary"
        else
            will "$REPLICA" "recreate it ($reason): stop it if it runs, remove $REPLICA_DIR, drop the idle slot $SLOT on the primary, pg_basebackup with a new slot $SLOT"
        fi
        create_replica
        wait_for replica_streaming || die "replica: not streaming after ${WAIT_SECONDS}s"
        state="created with pg_basebackup"
    fi
    say "$REPLICA" "$state, streaming from 127.0.0.1:$PRIMARY_PORT (slot $SLOT, data $REPLICA_DIR)"
}

# --- modes ---------------------------------------------------------------------------

# Every reason not to go on, one per line; nothing when the ports are free or ours.
check_ports() {
    local problems=()
    if [[ -z ${CLUSTER:-} ]]; then
        problems+=("no PostgreSQL $PG_VERSION cluster is configured for port $PRIMARY_PORT (pg_lsclusters: $(
            pg_lsclusters -h 2>/dev/null | awk '{ printf "%s%s/%s on %s", s, $1, $2, $3; s = ", " }')). Set DRIFTWATCH_TEST_PG_PORT to the system cluster's port.")
    elif [[ $(port_owner "$PRIMARY_PORT" "$PRIMARY_PIDFILE") == foreign ]]; then
        problems+=("$(foreign_system_port "$PRIMARY_PORT" DRIFTWATCH_TEST_PG_PORT "the system PostgreSQL $PG_VERSION/$CLUSTER")")
    fi
    local p
    p=$(check_ours "$REPLICA_PORT" "$REPLICA_DIR/postmaster.pid" DRIFTWATCH_TEST_PG_REPLICA_PORT \
        "the test replica (data $REPLICA_DIR)") || problems+=("$p")
    if ((${#problems[@]} == 0)) && primary_up; then
        p=$(slot_problem)
        [[ -z $p ]] || problems+=("$p")
    fi
    report_problems "${problems[@]}"
}

case $MODE in
    check)
        require_root "needs pg_lsclusters and the replica's data dir"
        check_ports
        ;;
    up)
        require_root "needs runuser and the system cluster's pg_hba.conf"
        check_ports || exit 1
        ensure_primary
        ensure_auditor
        ensure_unprivileged
        ensure_test_database
        ensure_replica
        ;;
    stop)
        require_root "needs runuser"
        if replica_running; then
            stop_replica
            say "$REPLICA" "stopped (data kept in $REPLICA_DIR)"
        else
            say "$REPLICA" "not running"
        fi
        ;;
esac
