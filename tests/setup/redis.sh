#!/usr/bin/env bash
# Redis test services: the system Redis 7 on 127.0.0.1:6379 as primary, a replica of
# ours on 127.0.0.1:6380 started from its own config file, and the least-privilege ACL
# users the tests log in as, on both.
#
#   DRIFTWATCH_TEST_REDIS_PORT=6379          the system Redis's port
#   DRIFTWATCH_TEST_REDIS_REPLICA_PORT=6380  the replica's port
#
# On the system Redis, each announced with `will` before it is made:
#   - when nothing listens on its port, starts one there in its place (no persistence,
#     pid file in $DRIFTWATCH_TEST_DIR/redis-primary, so stop-services.sh can stop it);
#   - sets the ACL users driftwatch-replicator (+psync +replconf +ping, the replica's
#     login), driftwatch-auditor (+info +config|get +role +ping) and driftwatch-noconfig
#     (+info +role +ping), in memory only (no aclfile, no CONFIG REWRITE): a restart of
#     the system Redis forgets them and the next run sets them again.
# Ours: the replica, config, pid file and log in $DRIFTWATCH_TEST_DIR/redis-replica
# (`-PORT` appended at another port), adopted only when the redis-server of its pid
# file listens on the port.
#
# The replica logs in to the primary as driftwatch-replicator (masteruser/masterauth):
# Redis 7 refuses `masterauth` alone when the primary's default user has no password,
# and the secret must be real for the redaction tests to matter.
#
# Usage (as root): bash tests/setup/redis.sh [up|check|stop]   (services.sh runs it)
#   stop: stops the replica (and a primary this script started); never the system Redis.
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

test_port DRIFTWATCH_TEST_REDIS_PORT 6379
test_port DRIFTWATCH_TEST_REDIS_REPLICA_PORT 6380
PRIMARY_PORT=$DRIFTWATCH_TEST_REDIS_PORT
REPLICA_PORT=$DRIFTWATCH_TEST_REDIS_REPLICA_PORT
STANDIN_DIR=$(instance_dir redis-primary "$PRIMARY_PORT" 6379)
STANDIN_PIDFILE=$STANDIN_DIR/redis.pid
REPLICA_DIR=$(instance_dir redis-replica "$REPLICA_PORT" 6380)
REPLICA_CONF=$REPLICA_DIR/redis.conf
REPLICA_PIDFILE=$REPLICA_DIR/redis.pid
REPLICA_LOG=$REPLICA_DIR/redis.log
AUDITOR=driftwatch-auditor
AUDITOR_PW=driftwatch-auditor-pw
AUDITOR_CMDS="-@all +info +config|get +role +ping"
# A user without +config|get, for the test that the missing permission is named.
NOCONFIG=driftwatch-noconfig
NOCONFIG_PW=driftwatch-noconfig-pw
NOCONFIG_CMDS="-@all +info +role +ping"
REPLICATOR=driftwatch-replicator
REPLICATOR_PW=driftwatch-test-secret
REPLICATOR_CMDS="-@all +psync +replconf +ping"
WAIT_SECONDS=30
PRIMARY="redis      127.0.0.1:$PRIMARY_PORT"
REPLICA="redis      replica 127.0.0.1:$REPLICA_PORT"

cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning "$@"; }
up() { [[ $(cli "$1" PING 2>/dev/null) == PONG ]]; }
info_field() { cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
die() {
    echo "$SCRIPT: $*" >&2
    if [[ -f $REPLICA_LOG ]]; then
        echo "--- last lines of $REPLICA_LOG ---" >&2
        tail -n 30 "$REPLICA_LOG" >&2
    fi
    exit 1
}

# --- primary -------------------------------------------------------------------------

ensure_primary() {
    local did="system, already running"
    if [[ $(port_owner "$PRIMARY_PORT" "$STANDIN_PIDFILE") == ours ]]; then
        did="already running (started by this setup in place of the system Redis, pid file $STANDIN_PIDFILE)"
    elif ! port_listened "$PRIMARY_PORT"; then
        will "$PRIMARY" "start a Redis in place of the system one (no persistence, pid file $STANDIN_PIDFILE)"
        mkdir -p "$STANDIN_DIR"
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$PRIMARY_PORT" --save "" \
            --appendonly no --dir "$STANDIN_DIR" --pidfile "$STANDIN_PIDFILE" \
            --logfile "$STANDIN_DIR/redis.log" >/dev/null
        wait_for up "$PRIMARY_PORT" || die "primary: not answering on 127.0.0.1:$PRIMARY_PORT"
        did="started (no persistence, pid file $STANDIN_PIDFILE)"
    fi
    [[ $(info_field "$PRIMARY_PORT" role) == master ]] ||
        die "primary: 127.0.0.1:$PRIMARY_PORT is not a master"
    say "$PRIMARY" "$did"
}

# True when `user` exists on `port` with exactly `password` and `commands` (any order),
# no key or channel patterns: then setting it again would change nothing.
acl_matches() {
    local port=$1 user=$2 password=$3 commands=$4 line sha want have
    line=$(cli "$port" ACL LIST 2>/dev/null | grep -F "user $user " | head -n 1) || return 1
    sha=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
    [[ " $line " == *" on "* && " $line " == *" #$sha "* && $(grep -o ' #' <<<"$line" | wc -l) == 1 ]] || return 1
    [[ " $line " != *" ~"* && " $line " != *" %"* && " $line " != *" &"* ]] || return 1
    want=$(tr ' ' '\n' <<<"$commands" | sort | tr '\n' ' ')
    have=$(tr ' ' '\n' <<<"$line" | grep -E '^[+-]' | sort | tr '\n' ' ')
    [[ $want == "$have" ]]
}

# `set_acl_user PORT USER PASSWORD COMMANDS`: sets it unless it is already exactly so;
# ACL_SET says whether it did.
set_acl_user() {
    local port=$1 user=$2 password=$3 commands=$4
    ACL_SET=no
    acl_matches "$port" "$user" "$password" "$commands" && return 0
    will "redis      127.0.0.1:$port" "set the ACL user $user ($commands, in memory)"
    # shellcheck disable=SC2086 # the commands are separate ACL rules
    [[ $(cli "$port" ACL SETUSER "$user" reset on ">$password" $commands) == OK ]] ||
        die "ACL: cannot set $user on 127.0.0.1:$port"
    ACL_SET=yes
}

# The primary's ACL is not persisted: the replication user is set before the replica is
# checked, so a restarted primary lets its replica back in.
ensure_replicator() {
    set_acl_user "$PRIMARY_PORT" "$REPLICATOR" "$REPLICATOR_PW" "$REPLICATOR_CMDS"
}

# --- replica -------------------------------------------------------------------------

replica_pid() { pidfile_pid "$REPLICA_PIDFILE"; }
replica_listening() { pid_listens "$REPLICA_PORT" "$(replica_pid)"; }
link_up() { [[ $(info_field "$REPLICA_PORT" master_link_status) == up ]]; }

write_replica_config() {
    mkdir -p "$REPLICA_DIR"
    cat >"$REPLICA_CONF" <<CONF
# Written by tests/setup/redis.sh. The replication password is a test secret: tests
# prove that redaction hides it.
port $REPLICA_PORT
bind 127.0.0.1
protected-mode yes
daemonize yes
pidfile $REPLICA_PIDFILE
logfile $REPLICA_LOG
dir $REPLICA_DIR
save ""
appendonly no
replicaof 127.0.0.1 $PRIMARY_PORT
masteruser $REPLICATOR
masterauth $REPLICATOR_PW
replica-read-only yes
CONF
}

stop_replica() {
    local pid
    pid=$(replica_pid)
    [[ -n $pid ]] || return 0
    start-stop-daemon --stop --quiet --pidfile "$REPLICA_PIDFILE" --retry TERM/30/KILL/5 || true
}

ensure_replica() {
    local did problem
    problem=$(check_ours "$REPLICA_PORT" "$REPLICA_PIDFILE" DRIFTWATCH_TEST_REDIS_REPLICA_PORT \
        "the test replica (config $REPLICA_CONF)") || die "$problem"
    if [[ -n $(replica_pid) ]] && ! replica_listening; then
        will "$REPLICA" "stop the replica (pid $(replica_pid)): it was started from $REPLICA_CONF but does not listen on :$REPLICA_PORT"
        stop_replica
    fi
    if replica_listening; then
        if [[ $(info_field "$REPLICA_PORT" role) == master ||
            $(info_field "$REPLICA_PORT" master_port) != "$PRIMARY_PORT" ]]; then
            will "$REPLICA" "point it at 127.0.0.1:$PRIMARY_PORT again (REPLICAOF)"
            cli "$REPLICA_PORT" REPLICAOF 127.0.0.1 "$PRIMARY_PORT" >/dev/null
            did="was detached, re-pointed at 127.0.0.1:$PRIMARY_PORT"
        else
            did="already running"
        fi
    else
        will "$REPLICA" "start it from $REPLICA_CONF (written afresh)"
        write_replica_config
        redis-server "$REPLICA_CONF" >/dev/null || die "replica: redis-server $REPLICA_CONF failed"
        wait_for replica_listening || die "replica: not listening on 127.0.0.1:$REPLICA_PORT"
        wait_for up "$REPLICA_PORT" || die "replica: not answering on 127.0.0.1:$REPLICA_PORT"
        did="started from $REPLICA_CONF"
    fi
    wait_for link_up || die "replica: master_link_status not up after ${WAIT_SECONDS}s"
    say "$REPLICA" "$did, replicating 127.0.0.1:$PRIMARY_PORT (link up)"
}

# ACL users live in memory only (no aclfile): set them wherever they are not as wanted.
ensure_acl_users() {
    local port did=()
    for port in "$PRIMARY_PORT" "$REPLICA_PORT"; do
        set_acl_user "$port" "$AUDITOR" "$AUDITOR_PW" "$AUDITOR_CMDS"
        [[ $ACL_SET == no ]] || did+=("$AUDITOR on :$port")
        set_acl_user "$port" "$NOCONFIG" "$NOCONFIG_PW" "$NOCONFIG_CMDS"
        [[ $ACL_SET == no ]] || did+=("$NOCONFIG on :$port")
    done
    local summary
    summary=$(joined "${did[@]}")
    say "redis      ACL users" "$AUDITOR (+info +config|get +role +ping), $NOCONFIG (no +config|get) on :$PRIMARY_PORT and :$REPLICA_PORT: ${summary:+set }${summary:-already set}"
}

# --- modes ---------------------------------------------------------------------------

# Every reason not to go on; nothing when the ports are free, ours, or the primary's a
# Redis master.
check_ports() {
    local problems=() p
    if [[ $(port_owner "$PRIMARY_PORT" "$STANDIN_PIDFILE") == foreign ]]; then
        if ! up "$PRIMARY_PORT"; then
            problems+=("$(foreign_system_port "$PRIMARY_PORT" DRIFTWATCH_TEST_REDIS_PORT "a Redis (it does not answer PING)")")
        elif [[ $(info_field "$PRIMARY_PORT" role) != master ]]; then
            problems+=("the Redis on 127.0.0.1:$PRIMARY_PORT is a replica, not a primary: set DRIFTWATCH_TEST_REDIS_PORT to the system Redis's port.")
        fi
    fi
    p=$(check_ours "$REPLICA_PORT" "$REPLICA_PIDFILE" DRIFTWATCH_TEST_REDIS_REPLICA_PORT \
        "the test replica (config $REPLICA_CONF)") || problems+=("$p")
    report_problems "${problems[@]}"
}

case $MODE in
    check)
        require_root "needs the pid files"
        check_ports
        ;;
    up)
        require_root "writes $DRIFTWATCH_TEST_DIR"
        command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install -y redis-server)"
        check_ports || exit 1
        ensure_primary
        ensure_replicator
        ensure_replica
        ensure_acl_users
        ;;
    stop)
        require_root "needs start-stop-daemon"
        if [[ -n $(replica_pid) ]]; then
            stop_replica
            say "$REPLICA" "stopped (config kept in $REPLICA_DIR)"
        else
            say "$REPLICA" "not running"
        fi
        if [[ -n $(pidfile_pid "$STANDIN_PIDFILE") ]]; then
            start-stop-daemon --stop --quiet --pidfile "$STANDIN_PIDFILE" --retry TERM/30/KILL/5 || true
            say "$PRIMARY" "stopped the Redis this setup had started in place of the system one"
        fi
        ;;
esac
