#!/usr/bin/env bash
# MariaDB test services for the MySQL collector: the system MariaDB 10.11 on
# 127.0.0.1:3306 as primary (binary logging switched on by an option file), a replica of
# ours on 127.0.0.1:3307 replicating from it with GTIDs, a replication user, a
# least-privilege auditor and a login with no grants.
#
#   DRIFTWATCH_TEST_MARIADB_PORT=3306          the system MariaDB's port (must be the one
#                                              `mariadbd --print-defaults` shows)
#   DRIFTWATCH_TEST_MARIADB_REPLICA_PORT=3307  the replica's port
#
# The system MariaDB is known by its pid file (`--pid-file` in `mariadbd
# --print-defaults`, else /run/mysqld/mysqld.pid) and is up when that process listens
# on the port; it is started the way this machine runs it without systemd
# (start-stop-daemon, by that pid file), never by matching any mariadbd. Its changes,
# each announced with `will` before it is made:
#   - starts it when it is down;
#   - writes /etc/mysql/mariadb.conf.d/90-driftwatch-ci.cnf (server_id = 1, log_bin,
#     binlog_format = ROW, log_slave_updates), and appends an `!includedir` for that
#     folder to /etc/mysql/my.cnf when mariadbd would not read it otherwise;
#   - restarts it once so binary logging takes effect. If it does not come back with
#     binary logging, the edits are undone, it is started again as it was, and only then
#     does the script fail: it never leaves a server it found running stopped;
#   - creates the users driftwatch_repl (REPLICATION SLAVE), driftwatch_auditor (BINLOG
#     MONITOR, SLAVE MONITOR) and driftwatch_unprivileged (no grants) when missing.
# Ours: the replica, data in $DRIFTWATCH_TEST_DIR/mariadb-replica (`-PORT` appended at
# another port), adopted only when the mariadbd of its pid file listens on the port.
#
# Usage (as root): bash tests/setup/mariadb.sh [up|check|stop]   (services.sh runs it)
#   stop: stops the replica (data kept); never the system MariaDB.
#
# The auditor's grants are what the collector needs and nothing else:
#   GRANT BINLOG MONITOR, SLAVE MONITOR ON *.*
# (REPLICATION CLIENT is MariaDB's old name for BINLOG MONITOR; on MySQL 8 grant
# REPLICATION CLIENT.) SHOW GLOBAL VARIABLES and information_schema need no grant.
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

test_port DRIFTWATCH_TEST_MARIADB_PORT 3306
test_port DRIFTWATCH_TEST_MARIADB_REPLICA_PORT 3307
PRIMARY_PORT=$DRIFTWATCH_TEST_MARIADB_PORT
REPLICA_PORT=$DRIFTWATCH_TEST_MARIADB_REPLICA_PORT
MARIADBD=/usr/sbin/mariadbd
PRIMARY_CNF=/etc/mysql/my.cnf
PRIMARY_CNF_DIR=/etc/mysql/mariadb.conf.d
PRIMARY_OPTION_FILE=$PRIMARY_CNF_DIR/90-driftwatch-ci.cnf
REPLICA_DIR=$(instance_dir mariadb-replica "$REPLICA_PORT" 3307)
REPLICA_CNF=$REPLICA_DIR/driftwatch-replica.cnf
REPLICA_SOCKET=$REPLICA_DIR/mysqld.sock
REPLICA_PIDFILE=$REPLICA_DIR/mysqld.pid
REPLICA_LOG=$REPLICA_DIR/error.log
# 2 at the default port (what the tests expect), the port elsewhere: two replicas of
# one primary must not share a server id. tests/support/ports.rs says the same.
if [[ $REPLICA_PORT == 3307 ]]; then REPLICA_SERVER_ID=2; else REPLICA_SERVER_ID=$REPLICA_PORT; fi
REPL_USER=driftwatch_repl
REPL_PASSWORD=driftwatch-test-secret
AUDITOR=driftwatch_auditor
AUDITOR_PASSWORD=driftwatch-auditor-pw
AUDITOR_GRANTS='BINLOG MONITOR, SLAVE MONITOR'
UNPRIVILEGED=driftwatch_unprivileged
UNPRIVILEGED_PASSWORD=driftwatch-unprivileged-pw
WAIT_SECONDS=60
PRIMARY="mariadb    127.0.0.1:$PRIMARY_PORT"
REPLICA="mariadb    replica 127.0.0.1:$REPLICA_PORT"

# The last value of option `name` (dashes or underscores) mariadbd would start with.
system_option() {
    "$MARIADBD" --print-defaults 2>/dev/null | tr ' ' '\n' |
        sed -nE "s/^--${1//-/[-_]}=//p" | tail -n 1
}
SYSTEM_PIDFILE_SET=$(system_option pid-file)
SYSTEM_PIDFILE=${SYSTEM_PIDFILE_SET:-/run/mysqld/mysqld.pid}
SYSTEM_PORT=$(system_option port)
SYSTEM_PORT=${SYSTEM_PORT:-3306}
PRIMARY_LOG=$(system_option log-error)
PRIMARY_LOG=${PRIMARY_LOG:-/var/log/mysql/error.log}

primary_sql() { mariadb --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root -NB -e "$1"; }
replica_sql() { mariadb --protocol=socket -S "$REPLICA_SOCKET" -u root -NB -e "$1"; }
# `SHOW SLAVE STATUS` as `Name: value` lines.
replica_status() { mariadb --protocol=socket -S "$REPLICA_SOCKET" -u root -e "SHOW SLAVE STATUS\G"; }
replica_up() { mariadb-admin --protocol=socket -S "$REPLICA_SOCKET" -u root ping >/dev/null 2>&1; }

die() {
    echo "$SCRIPT: $*" >&2
    local log
    for log in "$REPLICA_LOG" "$PRIMARY_LOG"; do
        if [[ -f $log ]]; then
            echo "--- last lines of $log ---" >&2
            tail -n 20 "$log" >&2
        fi
    done
    exit 1
}

# --- primary -------------------------------------------------------------------------

system_pid() { pidfile_pid "$SYSTEM_PIDFILE"; }

# Up: the process of the system pid file listens on the port and answers.
primary_up() {
    pid_listens "$PRIMARY_PORT" "$(system_pid)" &&
        mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$PRIMARY_PORT" -u root ping >/dev/null 2>&1
}

# The replication settings the primary needs, as the running server reports them.
primary_binlog_effective() {
    [[ $(primary_sql "SELECT CONCAT_WS(' ', @@log_bin, @@binlog_format, @@log_slave_updates,
                                       @@server_id <> 0)" 2>/dev/null) == "ON ROW ON 1" ]]
}

# The option file is effective when mariadbd would start with our log-bin.
option_file_read() {
    "$MARIADBD" --print-defaults 2>/dev/null | grep -qE -- '--log[-_]bin=mysql-bin( |$)'
}

# Starts the system MariaDB by its pid file, as this machine runs it without systemd:
# start-stop-daemon, in the background, as mysql (`user = mysql` in my.cnf). Succeeds
# when that process then listens on the port.
start_primary() {
    local run_dir
    run_dir=$(dirname "$SYSTEM_PIDFILE")
    if [[ ! -d $run_dir ]]; then
        will "$PRIMARY" "create $run_dir (owner mysql) for its pid file, as its init script would"
        install -d -o mysql -g mysql -m 0755 "$run_dir"
    fi
    local args=()
    [[ -n $SYSTEM_PIDFILE_SET ]] || args=(-- "--pid-file=$SYSTEM_PIDFILE")
    start-stop-daemon --start --background --pidfile "$SYSTEM_PIDFILE" --exec "$MARIADBD" "${args[@]}" ||
        return 1
    wait_for primary_up
}

# Stops the system MariaDB by its pid file (TERM, up to 120 s; never KILL).
stop_primary() {
    start-stop-daemon --stop --quiet --pidfile "$SYSTEM_PIDFILE" --exec "$MARIADBD" --retry TERM/120 ||
        return 1
    primary_gone() { [[ $(port_owner "$PRIMARY_PORT" "$SYSTEM_PIDFILE") != ours ]]; }
    wait_for primary_gone
}

# What enable_binlog changed, for restore_primary.
WROTE_OPTION_FILE=no OPTION_FILE_BACKUP="" CNF_BACKUP="" WAS_RUNNING=no RESTORED=no

# Puts the system MariaDB back as it was before enable_binlog: stopped if it is half
# up; the option file and my.cnf as they were (our own option file moved aside when it
# was there before: the server ran without it taking effect); started if it ran.
restore_primary() {
    [[ $RESTORED == no ]] || return 0
    RESTORED=yes
    trap - EXIT INT TERM HUP
    echo "$PRIMARY: the restart did not succeed; putting the system MariaDB back as it was" >&2
    if [[ -n $(system_pid) ]]; then stop_primary || true; fi
    if [[ -n $OPTION_FILE_BACKUP ]]; then
        cat "$OPTION_FILE_BACKUP" >"$PRIMARY_OPTION_FILE"
        echo "$PRIMARY: restored $PRIMARY_OPTION_FILE" >&2
    elif [[ $WROTE_OPTION_FILE == yes ]]; then
        rm -f "$PRIMARY_OPTION_FILE"
        echo "$PRIMARY: removed $PRIMARY_OPTION_FILE" >&2
    elif [[ -f $PRIMARY_OPTION_FILE ]]; then
        mkdir -p "$DRIFTWATCH_TEST_DIR"
        mv "$PRIMARY_OPTION_FILE" "$DRIFTWATCH_TEST_DIR/90-driftwatch-ci.cnf.disabled"
        echo "$PRIMARY: moved $PRIMARY_OPTION_FILE to $DRIFTWATCH_TEST_DIR/90-driftwatch-ci.cnf.disabled" >&2
    fi
    if [[ -n $CNF_BACKUP ]]; then
        cat "$CNF_BACKUP" >"$PRIMARY_CNF"
        echo "$PRIMARY: restored $PRIMARY_CNF" >&2
    fi
    if [[ $WAS_RUNNING == yes ]]; then
        if start_primary; then
            echo "$PRIMARY: started again as it was (pid $(system_pid))" >&2
        else
            echo "$PRIMARY: COULD NOT START IT AGAIN: see $PRIMARY_LOG" >&2
        fi
    fi
    rm -f "$OPTION_FILE_BACKUP" "$CNF_BACKUP"
}

# Switches binary logging on: the option file, then one restart. Each step announced
# first; a failure, or an interruption, after the first change restores the server.
enable_binlog() {
    local pid log_offset
    pid=$(system_pid)
    log_offset=$(stat -c %s "$PRIMARY_LOG" 2>/dev/null || echo 0)
    if [[ -n $pid ]]; then WAS_RUNNING=yes; fi
    trap 'restore_primary' EXIT
    trap 'exit 130' INT TERM HUP
    if ! option_file_read; then
        will "$PRIMARY" "write $PRIMARY_OPTION_FILE (server_id = 1, log_bin = mysql-bin, binlog_format = ROW, log_slave_updates = ON)"
        if [[ -f $PRIMARY_OPTION_FILE ]]; then
            OPTION_FILE_BACKUP=$(mktemp)
            cp -p "$PRIMARY_OPTION_FILE" "$OPTION_FILE_BACKUP"
        fi
        install -d -m 0755 "$PRIMARY_CNF_DIR"
        WROTE_OPTION_FILE=yes
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
        if ! option_file_read; then
            will "$PRIMARY" "append '!includedir $PRIMARY_CNF_DIR/' to $PRIMARY_CNF, which does not include that folder"
            CNF_BACKUP=$(mktemp)
            cp -p "$PRIMARY_CNF" "$CNF_BACKUP"
            printf '\n!includedir %s/\n' "$PRIMARY_CNF_DIR" >>"$PRIMARY_CNF"
        fi
        if ! option_file_read; then
            restore_primary
            die "primary: mariadbd does not read $PRIMARY_OPTION_FILE; the edits were undone"
        fi
    fi
    if [[ $WAS_RUNNING == yes ]]; then
        will "$PRIMARY" "restart the system MariaDB (pid $pid) so binary logging takes effect (should it not come back, the edits are undone and it is started as it was)"
        if ! stop_primary; then
            restore_primary
            die "primary: pid $pid did not stop within 120s"
        fi
    else
        will "$PRIMARY" "start the system MariaDB with binary logging"
    fi
    if ! start_primary || ! primary_binlog_effective; then
        # Why, from the log lines of this attempt, before the restore adds its own.
        local why
        why=$(tail -c +"$((log_offset + 1))" "$PRIMARY_LOG" 2>/dev/null | grep -E '\[(ERROR|Warning)\]' | tail -n 10 || true)
        restore_primary
        echo "$SCRIPT: primary: the system MariaDB did not come back with binary logging on 127.0.0.1:$PRIMARY_PORT; the edits were undone" >&2
        if [[ -n $why ]]; then echo "--- $PRIMARY_LOG, that attempt ---" >&2; echo "$why" >&2; fi
        exit 1
    fi
    trap - EXIT INT TERM HUP
    rm -f "$OPTION_FILE_BACKUP" "$CNF_BACKUP"
}

ensure_primary() {
    local did=()
    if ! primary_up && [[ -n $(system_pid) ]]; then
        # Running but not answering yet: starting, or recovering.
        wait_for primary_up ||
            die "primary: pid $(system_pid) (from $SYSTEM_PIDFILE) does not answer on 127.0.0.1:$PRIMARY_PORT after ${WAIT_SECONDS}s"
    fi
    if ! primary_up; then
        will "$PRIMARY" "start the system MariaDB (start-stop-daemon --start --pidfile $SYSTEM_PIDFILE --exec $MARIADBD)"
        start_primary ||
            die "primary: the system MariaDB did not start on 127.0.0.1:$PRIMARY_PORT (it was stopped before)"
        did+=("started")
    fi
    if ! primary_binlog_effective; then
        enable_binlog
        did+=("restarted with binary logging")
    fi
    local summary
    summary=$(joined "${did[@]}")
    say "$PRIMARY" "system, pid $(system_pid), ${summary:-already running with binary logging}"
}

# CREATE USER + GRANT only when something is missing, so a rerun writes nothing to the
# binary log.
ensure_user() {
    local user=$1 password=$2 grants=$3 hosts=$4 host did=()
    local what=${grants:-no grants} label="mariadb    user $user"
    for host in $hosts; do
        local account="'$user'@'$host'"
        if [[ -z $(primary_sql "SELECT 1 FROM mysql.user WHERE user = '$user' AND host = '$host'") ]]; then
            will "$label" "create $account ($what; replicated to the replica)"
            primary_sql "CREATE USER $account IDENTIFIED BY '$password'"
            did+=("created @$host")
        fi
        if [[ -n $grants ]] && ! primary_sql "SHOW GRANTS FOR $account" | grep -qF "GRANT $grants ON *.*"; then
            will "$label" "grant $grants ON *.* to $account"
            primary_sql "GRANT $grants ON *.* TO $account"
            did+=("granted $grants @$host")
        fi
    done
    local summary
    summary=$(joined "${did[@]}")
    say "$label" "${summary:-already present} ($what)"
}

# --- replica -------------------------------------------------------------------------

replica_pid() { pidfile_pid "$REPLICA_PIDFILE"; }
replica_running() { [[ -n $(replica_pid) ]]; }
replica_listening() { pid_listens "$REPLICA_PORT" "$(replica_pid)"; }

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
server_id = $REPLICA_SERVER_ID
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
    wait_for replica_listening && replica_up
}

stop_replica() {
    replica_running || return 0
    start-stop-daemon --stop --quiet --pidfile "$REPLICA_PIDFILE" --exec "$MARIADBD" \
        --retry TERM/60/KILL/5 || true
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
    grep -q '^server_id = '"$REPLICA_SERVER_ID"'$' "$REPLICA_CNF" ||
        { echo "configured with another server id"; return; }
    replica_up || { echo "not answering"; return; }
    local host port
    host=$(replica_status | awk '$1 == "Master_Host:" { print $2 }')
    port=$(replica_status | awk '$1 == "Master_Port:" { print $2 }')
    [[ $host == 127.0.0.1 && $port == "$PRIMARY_PORT" ]] ||
        { echo "no replication source 127.0.0.1:$PRIMARY_PORT configured"; return; }
    [[ -n $(replica_sql "SELECT 1 FROM mysql.user WHERE user = '$AUDITOR'") ]] ||
        { echo "$AUDITOR missing"; return; }
}

ensure_replica() {
    if replica_listening && replica_replicating && [[ -z $(replica_broken_reason) ]]; then
        say "$REPLICA" "already replicating from 127.0.0.1:$PRIMARY_PORT (GTID, server id $REPLICA_SERVER_ID, data $REPLICA_DIR)"
        return
    fi
    local problem
    problem=$(check_ours "$REPLICA_PORT" "$REPLICA_PIDFILE" DRIFTWATCH_TEST_MARIADB_REPLICA_PORT \
        "the test replica (data $REPLICA_DIR)") || die "$problem"
    if replica_running && ! wait_for replica_listening; then
        will "$REPLICA" "stop the replica (pid $(replica_pid)): it runs from $REPLICA_DIR but does not listen on :$REPLICA_PORT"
        stop_replica
    fi
    local state="" reason="missing"
    if [[ -d $REPLICA_DIR ]]; then
        if replica_running; then
            state="was running"
        elif [[ -f $REPLICA_CNF && -d $REPLICA_DIR/mysql ]]; then
            will "$REPLICA" "start it from its data dir $REPLICA_DIR"
            if start_replica; then state="started"; fi
        fi
        reason=$(replica_broken_reason)
        # An I/O thread still connecting (the primary just restarted) needs no START SLAVE.
        if [[ -z $reason && $(replica_threads) == "Connecting Yes" ]]; then
            WAIT_SECONDS=15 wait_for replica_replicating || true
        fi
        if [[ -z $reason ]] && ! replica_replicating; then
            will "$REPLICA" "start its replication threads (START SLAVE)"
            replica_sql "START SLAVE" || true
            wait_for replica_replicating || reason="not replicating after ${WAIT_SECONDS}s ($(replica_threads))"
        fi
    fi
    if [[ -n $reason ]]; then
        if [[ $reason == missing ]]; then
            will "$REPLICA" "create it in $REPLICA_DIR, seeded from a dump of the primary"
        else
            will "$REPLICA" "recreate it ($reason): stop it if it runs, remove $REPLICA_DIR, seed it from a dump of the primary"
        fi
        create_replica
        wait_for replica_replicating ||
            die "replica: threads not running after ${WAIT_SECONDS}s ($(replica_threads)): $(
                replica_status | grep -E 'Last_(IO|SQL)_Error:' | tr -s ' ' | tr '\n' ' ')"
        state="created from a dump of the primary"
    fi
    say "$REPLICA" "$state, replicating from 127.0.0.1:$PRIMARY_PORT (GTID, server id $REPLICA_SERVER_ID, data $REPLICA_DIR)"
}

# --- modes ---------------------------------------------------------------------------

# Every reason not to go on; nothing when the ports are free or ours.
check_ports() {
    local problems=() p
    if [[ $SYSTEM_PORT != "$PRIMARY_PORT" ]]; then
        problems+=("the system MariaDB is configured for port $SYSTEM_PORT (mariadbd --print-defaults), not $PRIMARY_PORT: set DRIFTWATCH_TEST_MARIADB_PORT=$SYSTEM_PORT.")
    elif [[ $(port_owner "$PRIMARY_PORT" "$SYSTEM_PIDFILE") == foreign ]]; then
        problems+=("$(foreign_system_port "$PRIMARY_PORT" DRIFTWATCH_TEST_MARIADB_PORT \
            "the system MariaDB (pid file $SYSTEM_PIDFILE: $(system_pid || true))")")
    fi
    p=$(check_ours "$REPLICA_PORT" "$REPLICA_PIDFILE" DRIFTWATCH_TEST_MARIADB_REPLICA_PORT \
        "the test replica (data $REPLICA_DIR)") || problems+=("$p")
    report_problems "${problems[@]}"
}

case $MODE in
    check)
        require_root "needs the pid files"
        check_ports
        ;;
    up)
        require_root "needs $PRIMARY_CNF_DIR and start-stop-daemon"
        check_ports || exit 1
        ensure_primary
        ensure_user "$REPL_USER" "$REPL_PASSWORD" "REPLICATION SLAVE" "127.0.0.1"
        ensure_user "$AUDITOR" "$AUDITOR_PASSWORD" "$AUDITOR_GRANTS" "127.0.0.1 localhost"
        ensure_user "$UNPRIVILEGED" "$UNPRIVILEGED_PASSWORD" "" "127.0.0.1"
        ensure_replica
        ;;
    stop)
        require_root "needs start-stop-daemon"
        if replica_running; then
            stop_replica
            say "$REPLICA" "stopped (data kept in $REPLICA_DIR)"
        else
            say "$REPLICA" "not running"
        fi
        ;;
esac
