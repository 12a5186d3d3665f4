#!/usr/bin/env bash
# Test services for `cargo test --test tests`: the system PostgreSQL 15 on 127.0.0.1:5432
# as primary, a least-privilege auditor role (pg_monitor), a role with no grants, and a
# streaming replica on 127.0.0.1:5433; then MariaDB (mariadb.sh): the system MariaDB on
# 127.0.0.1:3306 with binary logging and a replica on 127.0.0.1:3307; a Redis replica
# (redis.sh) on 127.0.0.1:6380 of the system Redis on :6379 with ACL users; memcached
# (memcached.sh) on :11211; and an S3-compatible server (s3.sh, moto) on :9310.
#
# Usage (as root):  bash tests/setup/services.sh
# Stop the replica: bash tests/setup/stop-services.sh
#
# Idempotent: run it as often as you like; it starts what is stopped, recreates what is
# broken and leaves what works alone. Prints one line per service. Binds 127.0.0.1 only.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PRIMARY_PORT=5432
PRIMARY_HBA=/etc/postgresql/15/main/pg_hba.conf
REPLICA_PORT=5433
REPLICA_DIR=/var/tmp/driftwatch-ci/pg-replica
SLOT=driftwatch_ci_replica
AUDITOR=driftwatch_auditor
UNPRIVILEGED=driftwatch_unprivileged
HBA_LINE='host replication all 127.0.0.1/32 trust'
WAIT_SECONDS=60

as_postgres() { runuser -u postgres -- "$@"; }
primary_sql() { psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
replica_sql() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
die() {
    echo "services.sh: $*" >&2
    if [[ -f $REPLICA_DIR/log/postgresql.log ]]; then
        echo "--- last lines of $REPLICA_DIR/log/postgresql.log ---" >&2
        tail -n 30 "$REPLICA_DIR/log/postgresql.log" >&2
    fi
    exit 1
}

# --- primary -------------------------------------------------------------------------

ensure_primary() {
    local did=()
    if ! pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT"; then
        pg_ctlcluster --skip-systemctl-redirect 15 main start
        did+=("started")
    fi
    if ! grep -qxF "$HBA_LINE" "$PRIMARY_HBA"; then
        # First matching line wins: put ours before the first rule, so a stock
        # `host replication all 127.0.0.1/32 scram-sha-256` cannot shadow it.
        local first_rule
        first_rule=$(grep -nvE '^[[:space:]]*(#|$)' "$PRIMARY_HBA" | head -n 1 | cut -d: -f1 || true)
        if [[ -n $first_rule ]]; then
            sed -i "${first_rule}i ${HBA_LINE}" "$PRIMARY_HBA"
        else
            echo "$HBA_LINE" >>"$PRIMARY_HBA"
        fi
        primary_sql 'SELECT pg_reload_conf()' >/dev/null
        did+=("allowed replication from 127.0.0.1 in pg_hba.conf and reloaded")
    fi
    local errors
    errors=$(primary_sql "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
    [[ $errors == 0 ]] || die "primary: $PRIMARY_HBA has $errors invalid line(s)"
    echo "primary  127.0.0.1:$PRIMARY_PORT: ${did[*]:-already running, replication allowed}"
}

ensure_auditor() {
    local role
    role=$(primary_sql "SELECT rolsuper::text || ' ' || pg_has_role(oid, 'pg_monitor', 'MEMBER')::text
                        FROM pg_roles WHERE rolname = '$AUDITOR'")
    case $role in
        "")
            primary_sql "CREATE ROLE $AUDITOR LOGIN IN ROLE pg_monitor" >/dev/null
            echo "auditor  $AUDITOR: created (LOGIN, member of pg_monitor)"
            ;;
        "false false")
            primary_sql "GRANT pg_monitor TO $AUDITOR" >/dev/null
            echo "auditor  $AUDITOR: existed, granted pg_monitor"
            ;;
        "false true") echo "auditor  $AUDITOR: already present (LOGIN, member of pg_monitor)" ;;
        *) die "auditor: $AUDITOR is a superuser; least-privilege tests would prove nothing" ;;
    esac
}

# A login role with no grants, for the test that the missing-privilege error names them.
ensure_unprivileged() {
    if [[ -z $(primary_sql "SELECT 1 FROM pg_roles WHERE rolname = '$UNPRIVILEGED'") ]]; then
        primary_sql "CREATE ROLE $UNPRIVILEGED LOGIN" >/dev/null
        echo "role     $UNPRIVILEGED: created (LOGIN, no grants)"
    else
        echo "role     $UNPRIVILEGED: already present (LOGIN, no grants)"
    fi
}

# --- replica -------------------------------------------------------------------------

replica_streaming() {
    pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT" &&
        [[ $(replica_sql "SELECT pg_is_in_recovery() AND
                 coalesce((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false)" 2>/dev/null) == t ]]
}

# A postmaster killed with -9 can linger as a zombie where nothing reaps orphans (a
# container whose PID 1 is not an init); pg_ctl counts that as running, we do not.
replica_running() {
    local pid
    pid=$(head -n 1 "$REPLICA_DIR/postmaster.pid" 2>/dev/null) || return 1
    [[ -n $pid && $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]]
}

# Why an existing replica data dir cannot stream from this primary, or nothing.
replica_broken_reason() {
    [[ -f $REPLICA_DIR/PG_VERSION && -f $REPLICA_DIR/standby.signal ]] ||
        { echo "not a standby data dir"; return; }
    local mine theirs
    mine=$("$PG_BIN/pg_controldata" "$REPLICA_DIR" 2>/dev/null |
        sed -n 's/^Database system identifier:[[:space:]]*//p')
    theirs=$(primary_sql "SELECT system_identifier FROM pg_control_system()")
    [[ -n $mine && $mine == "$theirs" ]] ||
        { echo "system identifier ${mine:-unreadable} (primary: $theirs)"; return; }
    [[ $(primary_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'") == 1 ]] ||
        { echo "slot $SLOT is missing on the primary"; return; }
}

# Settings the standby must match or exceed, read from the primary each time.
write_replica_config() {
    local capacity
    capacity=$(primary_sql "SELECT string_agg(name || ' = ' || setting, E'\n' ORDER BY name)
        FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',
        'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')")
    cat >"$REPLICA_DIR/postgresql.conf" <<EOF
# Written by tests/setup/services.sh; standalone from /etc/postgresql.
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
# Written by tests/setup/services.sh. The password is ignored (trust auth); it is
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
    as_postgres pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DIR" \
        -R -C -S "$SLOT" -X stream --no-password
    start_replica
}

wait_streaming() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    until replica_streaming; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

ensure_replica() {
    if replica_streaming; then
        echo "replica  127.0.0.1:$REPLICA_PORT: already streaming from 127.0.0.1:$PRIMARY_PORT"
        return
    fi
    if pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT" && ! replica_running; then
        die "replica: something else answers on 127.0.0.1:$REPLICA_PORT"
    fi
    local did reason=""
    if [[ -d $REPLICA_DIR ]]; then
        reason=$(replica_broken_reason)
    fi
    if [[ -d $REPLICA_DIR && -z $reason ]]; then
        if replica_running; then
            did="was running, now streaming"
        elif start_replica; then
            did="started existing data dir"
        else
            reason="did not start"
        fi
        if [[ -z $reason ]] && ! wait_streaming; then
            reason="not streaming after ${WAIT_SECONDS}s"
        fi
    fi
    if [[ ! -d $REPLICA_DIR || -n $reason ]]; then
        create_replica
        wait_streaming || die "replica: not streaming after ${WAIT_SECONDS}s"
        did="created with pg_basebackup${reason:+ (old data dir: $reason)}"
    fi
    echo "replica  127.0.0.1:$REPLICA_PORT: $did (slot $SLOT, data $REPLICA_DIR)"
}

[[ $(id -u) == 0 ]] || { echo "services.sh: run as root (needs runuser and $PRIMARY_HBA)" >&2; exit 1; }
ensure_primary
ensure_auditor
ensure_unprivileged
ensure_replica
bash "$(dirname "${BASH_SOURCE[0]}")/mariadb.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/s3.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/redis.sh"
bash "$(dirname "${BASH_SOURCE[0]}")/memcached.sh"
