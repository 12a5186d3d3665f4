#!/usr/bin/env bash
# Redis test services: the system Redis 7 on 127.0.0.1:6379 (no persistence) as
# primary, a replica on 127.0.0.1:6380 started from its own config file, and the
# least-privilege ACL users the tests log in as, on both.
#
# The replica logs in to the primary as the ACL user driftwatch-replicator
# (masteruser/masterauth): Redis 7 refuses `masterauth` alone when the primary's default
# user has no password, and the secret must be real for the redaction tests to matter.
#
# Usage (as root): bash tests/setup/redis.sh    (services.sh runs it)
# Stop the replica: bash tests/setup/stop-services.sh
#
# Idempotent: starts what is stopped, re-points a detached replica, re-creates the ACL
# users every run (nothing persists them). Prints one line per service. 127.0.0.1 only.
set -euo pipefail

PRIMARY_PORT=6379
REPLICA_PORT=6380
REPLICA_DIR=/var/tmp/driftwatch-ci/redis-replica
REPLICA_CONF=$REPLICA_DIR/redis.conf
REPLICA_LOG=$REPLICA_DIR/redis.log
AUDITOR=driftwatch-auditor
AUDITOR_PW=driftwatch-auditor-pw
# A user without +config|get, for the test that the missing permission is named.
NOCONFIG=driftwatch-noconfig
NOCONFIG_PW=driftwatch-noconfig-pw
REPLICATOR=driftwatch-replicator
REPLICATOR_PW=driftwatch-test-secret
WAIT_SECONDS=30

cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning "$@"; }
up() { [[ $(cli "$1" PING 2>/dev/null) == PONG ]]; }
info_field() { cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
die() {
    echo "redis.sh: $*" >&2
    if [[ -f $REPLICA_LOG ]]; then
        echo "--- last lines of $REPLICA_LOG ---" >&2
        tail -n 30 "$REPLICA_LOG" >&2
    fi
    exit 1
}
wait_until() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

ensure_primary() {
    local did="already running"
    if ! up "$PRIMARY_PORT"; then
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$PRIMARY_PORT" --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null
        wait_until up "$PRIMARY_PORT" || die "primary: not answering on 127.0.0.1:$PRIMARY_PORT"
        did="started (no persistence)"
    fi
    [[ $(info_field "$PRIMARY_PORT" role) == master ]] ||
        die "primary: 127.0.0.1:$PRIMARY_PORT is not a master"
    echo "redis    127.0.0.1:$PRIMARY_PORT: $did"
}

write_replica_config() {
    mkdir -p "$REPLICA_DIR"
    cat >"$REPLICA_CONF" <<CONF
# Written by tests/setup/redis.sh. The replication password is a test secret: tests
# prove that redaction hides it.
port $REPLICA_PORT
bind 127.0.0.1
protected-mode yes
daemonize yes
pidfile $REPLICA_DIR/redis.pid
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

# The primary's ACL is not persisted: the replication user is re-created before the
# replica is checked, so a restarted primary lets its replica back in.
ensure_replicator() {
    [[ $(cli "$PRIMARY_PORT" ACL SETUSER "$REPLICATOR" reset on ">$REPLICATOR_PW" +psync +replconf +ping) == OK ]] ||
        die "ACL: cannot create $REPLICATOR on 127.0.0.1:$PRIMARY_PORT"
}

link_up() { [[ $(info_field "$REPLICA_PORT" master_link_status) == up ]]; }

ensure_replica() {
    local did
    if up "$REPLICA_PORT"; then
        [[ -f $REPLICA_DIR/redis.pid && $(cli "$REPLICA_PORT" CONFIG GET port | tail -n 1) == "$REPLICA_PORT" ]] ||
            die "replica: something else answers on 127.0.0.1:$REPLICA_PORT"
        if [[ $(info_field "$REPLICA_PORT" role) == master ]]; then
            cli "$REPLICA_PORT" REPLICAOF 127.0.0.1 "$PRIMARY_PORT" >/dev/null
            did="was detached, re-pointed at 127.0.0.1:$PRIMARY_PORT"
        else
            did="already running"
        fi
    else
        write_replica_config
        redis-server "$REPLICA_CONF" >/dev/null || die "replica: redis-server $REPLICA_CONF failed"
        wait_until up "$REPLICA_PORT" || die "replica: not answering on 127.0.0.1:$REPLICA_PORT"
        did="started from $REPLICA_CONF"
    fi
    wait_until link_up || die "replica: master_link_status not up after ${WAIT_SECONDS}s"
    echo "redis    127.0.0.1:$REPLICA_PORT: $did, replicating 127.0.0.1:$PRIMARY_PORT (link up)"
}

# ACL users live in memory only (no aclfile): re-create them every run, from scratch.
ensure_acl_users() {
    local port
    for port in "$PRIMARY_PORT" "$REPLICA_PORT"; do
        [[ $(cli "$port" ACL SETUSER "$AUDITOR" reset on ">$AUDITOR_PW" +info '+config|get' +role +ping) == OK ]] ||
            die "ACL: cannot create $AUDITOR on 127.0.0.1:$port"
        [[ $(cli "$port" ACL SETUSER "$NOCONFIG" reset on ">$NOCONFIG_PW" +info +role +ping) == OK ]] ||
            die "ACL: cannot create $NOCONFIG on 127.0.0.1:$port"
    done
    echo "redis    ACL users $AUDITOR (+info +config|get +role +ping), $NOCONFIG (no +config|get): set on :$PRIMARY_PORT and :$REPLICA_PORT"
}

[[ $(id -u) == 0 ]] || { echo "redis.sh: run as root" >&2; exit 1; }
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install -y redis-server)"
ensure_primary
ensure_replicator
ensure_replica
ensure_acl_users
