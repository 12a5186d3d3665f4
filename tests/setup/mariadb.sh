#!/usr/bin/env bash
# MariaDB test services for the MySQL collector: the system MariaDB 10.11 on
# 127.0.0.1:3306 as primary (binary logging switched on by an option file), a replica on
# 127.0.0.1:3307 replicating from it with GTIDs, a replication user, a least-privilege
# auditor and a login with no grants.
#
# Usage (as root):  bash tests/setup/mariadb.sh      (services.sh calls it)
# Stop the replica: bash tests/setup/stop-services.sh
#
# Idempotent: starts what is stopped, recreates what is broken, leaves what works alone.
# Prints one line per service. Binds 127.0.0.1 only.
#
# The auditor's grants are what the collector needs and nothing else:
#   GRANT BINLOG MONITOR, SLAVE MONITOR ON *.*
# (REPLICATION CLIENT is MariaDB's old name for BINLOG MONITOR; on MySQL 8 grant
# REPLICATION CLIENT.) SHOW GLOBAL VARIABLES and information_schema need no grant.
set -euo pipefail

PRIMARY_PORT=3306
PRIMARY_CNF=/etc/mysql/my.cnf
PRIMARY_CNF_DIR=/etc/mysql/mariadb.conf.d
PRIMARY_OPTION_FILE=$PRIMARY_CNF_DIR/90-driftwatch-ci.cnf
PRIMARY_LOG=/var/log/mysql/error.log
MARIADBD=/usr/sbin/mariadbd
REPLICA_PORT=3307
REPLICA_DIR=/var/tmp/driftwatch-ci/mariadb-replica
REPLICA_CNF=$REPLICA_DIR/driftwatch-replica.cnf
REPLICA_SOCKET=$REPLICA_DIR/mysqld.sock
REPLICA_PIDFILE=$REPLICA_DIR/mysqld.pid
REPLICA_LOG=$REPLICA_DIR/error.log
REPL_USER=driftwatch_repl
REPL_PASSWORD=driftwatch-test-secret
AUDITOR=driftwatch_auditor
AUDITOR_PASSWORD=driftwatch-auditor-pw
AUDITOR_GRANTS='BINLOG MONITOR, SLAVE MONITOR'
UNPRIVILEGED=driftwatch_unprivileged
UNPRIVILEGED_PASSWORD=driftwatch-unprivileged-pw
WAIT_SECONDS=60

primary_sql() { mariadb --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root -NB -e "$1"; }
replica_sql() { mariadb --protocol=socket -S "$REPLICA_SOCKET" -u root -NB -e "$1"; }
primary_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root ping >/dev/null 2>&1; }
# `SHOW SLAVE STATUS` as `Name: value` lines.
replica_status() { mariadb --protocol=socket -S "$REPLICA_SOCKET" -u root -e "SHOW SLAVE STATUS\G"; }
replica_up() { mariadb-admin --protocol=socket -S "$REPLICA_SOCKET" -u root ping >/dev/null 2>&1; }

die() {
    echo "mariadb.sh: $*" >&2
    local log
    for log in "$REPLICA_LOG" "$PRIMARY_LOG"; do
        if [[ -f $log ]]; then
            echo "--- last lines of $log ---" >&2
            tail -n 20 "$log" >&2
        fi
    done
    exit 1
}

# Until `check` succeeds, at most WAIT_SECONDS.
wait_for() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# A process killed with -9 can linger as a zombie where nothing reaps orphans (PID 1 is
# not an init here): a zombie is not running.
pid_running() {
    [[ -n ${1:-} && $(ps -o stat= -p "$1" 2>/dev/null) == [^Z]* ]]
}

# --- primary -------------------------------------------------------------------------

# The replication settings the primary needs, as the running server reports them.
primary_binlog_effective() {
    [[ $(primary_sql "SELECT CONCAT_WS(' ', @@log_bin, @@binlog_format, @@log_slave_updates,
                                       @@server_id <> 0)" 2>/dev/null) == "ON ROW ON 1" ]]
}

# The option file is effective when mariadbd would start with our log-bin.
option_file_read() {
    "$MARIADBD" --print-defaults 2>/dev/null | grep -qE -- '--log[-_]bin=mysql-bin( |$)'
}

write_primary_option_file() {
    install -d -m 0755 "$PRIMARY_CNF_DIR"
    cat >"$PRIMARY_OPTION_FILE" <<EOF
# Written by driftwatch tests/setup/mariadb.sh: binary logging for the test replica.
[mysqld]
server_id = 1
log_bin = mysql-bin
binlog_format = ROW
log_slave_updates = ON
EOF
    chmod 0644 "$PRIMARY_OPTION_FILE"
    # Debian's stock my.cnf includes this folder; a trimmed one may not.
    if ! option_file_read && ! grep -qxF "!includedir $PRIMARY_CNF_DIR/" "$PRIMARY_CNF"; then
        printf '\n!includedir %s/\n' "$PRIMARY_CNF_DIR" >>"$PRIMARY_CNF"
    fi
    option_file_read || die "primary: mariadbd does not read $PRIMARY_OPTION_FILE"
}

primary_pid() {
    local pidfile
    pidfile=$("$MARIADBD" --print-defaults 2>/dev/null | grep -o -- '--pid-file=[^ ]*' | cut -d= -f2)
    head -n 1 "${pidfile:-/run/mysqld/mysqld.pid}" 2>/dev/null || true
}

# The way this machine starts it: start-stop-daemon, in the background, as mysql
# (`user = mysql` in my.cnf).
start_primary() {
    start-stop-daemon --start --oknodo --background --exec "$MARIADBD"
    wait_for primary_up || die "primary: no answer on 127.0.0.1:$PRIMARY_PORT after ${WAIT_SECONDS}s"
}

stop_primary() {
    local pid
    pid=$(primary_pid)
    mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root shutdown ||
        { [[ -n $pid ]] && kill "$pid"; } || true
    wait_for_gone() { ! pid_running "$pid" && ! primary_up; }
    wait_for wait_for_gone || die "primary: still running ${WAIT_SECONDS}s after shutdown"
}

ensure_primary() {
    local did=()
    if ! primary_up; then
        start_primary
        did+=("started")
    fi
    if ! primary_binlog_effective; then
        if ! option_file_read; then
            write_primary_option_file
            did+=("wrote $PRIMARY_OPTION_FILE")
        fi
        stop_primary
        start_primary
        primary_binlog_effective || die "primary: binary logging still off after a restart"
        did+=("restarted with binary logging")
    fi
    echo "mariadb  127.0.0.1:$PRIMARY_PORT: ${did[*]:-already running with binary logging}"
}

# CREATE USER … IF NOT EXISTS + GRANT only when something is missing, so a rerun writes
# nothing to the binary log.
ensure_user() {
    local user=$1 password=$2 grants=$3 hosts=$4 host did=()
    for host in $hosts; do
        local account="'$user'@'$host'"
        if [[ -z $(primary_sql "SELECT 1 FROM mysql.user WHERE user = '$user' AND host = '$host'") ]]; then
            primary_sql "CREATE USER $account IDENTIFIED BY '$password'"
            did+=("created @$host")
        fi
        if [[ -n $grants ]] && ! primary_sql "SHOW GRANTS FOR $account" | grep -qF "GRANT $grants ON *.*"; then
            primary_sql "GRANT $grants ON *.* TO $account"
            did+=("granted $grants @$host")
        fi
    done
    local what=${grants:-no grants}
    echo "user     $user: ${did[*]:-already present} ($what; replicated to the replica)"
}

# --- replica -------------------------------------------------------------------------

replica_pid() { head -n 1 "$REPLICA_PIDFILE" 2>/dev/null || true; }
replica_running() { pid_running "$(replica_pid)"; }

# "Yes Yes" when both replication threads run.
replica_threads() {
    replica_status 2>/dev/null |
        awk '$1 == "Slave_IO_Running:" { io = $2 } $1 == "Slave_SQL_Running:" { sql = $2 }
             END { print io " " sql }'
}
replica_replicating() { [[ $(replica_threads) == "Yes Yes" ]]; }

write_replica_config() {
    cat >"$REPLICA_CNF" <<EOF
# Written by driftwatch tests/setup/mariadb.sh; standalone from /etc/mysql.
[mysqld]
user = mysql
datadir = $REPLICA_DIR
port = $REPLICA_PORT
bind-address = 127.0.0.1
socket = $REPLICA_SOCKET
pid-file = $REPLICA_PIDFILE
log-error = $REPLICA_LOG
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = 64M
server_id = 2
read_only = ON
relay_log = relay-bin
relay_log_recovery = ON
log_bin = mysql-bin
binlog_format = ROW
log_slave_updates = ON
report_host = 127.0.0.1
report_port = $REPLICA_PORT
EOF
    chmod 0644 "$REPLICA_CNF"
}

start_replica() {
    write_replica_config
    start-stop-daemon --start --oknodo --background --pidfile "$REPLICA_PIDFILE" \
        --exec "$MARIADBD" -- --defaults-file="$REPLICA_CNF"
    wait_for replica_up
}

stop_replica() {
    local pid
    pid=$(replica_pid)
    pid_running "$pid" || return 0
    mariadb-admin --protocol=socket -S "$REPLICA_SOCKET" -u root shutdown 2>/dev/null || kill "$pid" || true
    replica_gone() { ! pid_running "$pid"; }
    wait_for replica_gone || { kill -9 "$pid" 2>/dev/null || true; sleep 1; }
}

# CHANGE MASTER for GTID replication from the primary, then START SLAVE.
point_at_primary() {
    replica_sql "STOP SLAVE;
        CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $PRIMARY_PORT,
            MASTER_USER = '$REPL_USER', MASTER_PASSWORD = '$REPL_PASSWORD',
            MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 2;
        START SLAVE;"
}

create_replica() {
    stop_replica
    rm -rf "$REPLICA_DIR"
    install -d -o mysql -g mysql -m 0750 "$REPLICA_DIR"
    write_replica_config
    mariadb-install-db --defaults-file="$REPLICA_CNF" --user=mysql \
        --auth-root-authentication-method=normal --skip-test-db >>"$REPLICA_LOG.install" 2>&1 ||
        die "replica: mariadb-install-db failed (see $REPLICA_LOG.install)"
    start_replica || die "replica: did not start"
    # Seed from a consistent dump that records the primary's GTID position. Loaded with
    # sql_log_bin = 0 so the replica's own binary log holds only replicated events.
    local dump=$REPLICA_DIR/seed.sql gtid
    mariadb-dump --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root --all-databases \
        --master-data=1 --gtid --single-transaction --flush-privileges --routines --events \
        --ignore-table=mysql.gtid_slave_pos >"$dump" || die "replica: dumping the primary failed"
    gtid=$(sed -n "s/^SET GLOBAL gtid_slave_pos *= *'\([^']*\)'.*/\1/p" "$dump" | head -n 1)
    { echo "SET SESSION sql_log_bin = 0;"; cat "$dump"; } |
        mariadb --protocol=socket -S "$REPLICA_SOCKET" -u root ||
        die "replica: loading the dump failed"
    rm -f "$dump"
    replica_sql "SET GLOBAL gtid_slave_pos = '$gtid'"
    point_at_primary
}

# Why an existing replica cannot replicate from this primary, or nothing.
replica_broken_reason() {
    [[ -f $REPLICA_CNF && -d $REPLICA_DIR/mysql ]] || { echo "not a replica data dir"; return; }
    replica_up || { echo "not answering"; return; }
    local host
    host=$(replica_status | awk '$1 == "Master_Host:" { print $2 }')
    [[ $host == 127.0.0.1 ]] || { echo "no replication source configured"; return; }
    [[ -n $(replica_sql "SELECT 1 FROM mysql.user WHERE user = '$AUDITOR'") ]] ||
        { echo "$AUDITOR missing"; return; }
}

ensure_replica() {
    if replica_running && replica_replicating && [[ -z $(replica_broken_reason) ]]; then
        echo "replica  127.0.0.1:$REPLICA_PORT: already replicating from 127.0.0.1:$PRIMARY_PORT"
        return
    fi
    if replica_running && ! replica_up; then
        stop_replica
    fi
    if ! replica_running && mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$REPLICA_PORT" ping >/dev/null 2>&1; then
        die "replica: something else answers on 127.0.0.1:$REPLICA_PORT"
    fi
    local did="" reason="missing"
    if [[ -d $REPLICA_DIR ]]; then
        if replica_running; then
            did="was running, slave restarted"
        elif start_replica; then
            did="started existing data dir"
        fi
        reason=$(replica_broken_reason)
        if [[ -z $reason ]]; then
            replica_replicating || replica_sql "START SLAVE" || true
            wait_for replica_replicating || reason="not replicating after ${WAIT_SECONDS}s ($(replica_threads))"
        fi
    fi
    if [[ -n $reason ]]; then
        create_replica
        wait_for replica_replicating ||
            die "replica: threads not running after ${WAIT_SECONDS}s ($(replica_threads)): $(
                replica_status | grep -E 'Last_(IO|SQL)_Error:' | tr -s ' ' | tr '\n' ' ')"
        did="created from a dump of the primary${reason:+ (old: $reason)}"
    fi
    echo "replica  127.0.0.1:$REPLICA_PORT: $did (GTID, data $REPLICA_DIR)"
}

[[ $(id -u) == 0 ]] || { echo "mariadb.sh: run as root (needs $PRIMARY_CNF_DIR and start-stop-daemon)" >&2; exit 1; }
ensure_primary
ensure_user "$REPL_USER" "$REPL_PASSWORD" "REPLICATION SLAVE" "127.0.0.1"
ensure_user "$AUDITOR" "$AUDITOR_PASSWORD" "$AUDITOR_GRANTS" "127.0.0.1 localhost"
ensure_user "$UNPRIVILEGED" "$UNPRIVILEGED_PASSWORD" "" "127.0.0.1"
ensure_replica
