#!/usr/bin/env bash
# Stops the test services started by tests/setup/services.sh: the PostgreSQL replica,
# the Redis replica and memcached. Leaves the system PostgreSQL and Redis (the primaries
# on 127.0.0.1:5432 and :6379), the slot and the replicas' folders alone, so the next
# services.sh run restarts the replicas quickly.
#
# Usage (as root): bash tests/setup/stop-services.sh
set -euo pipefail

REPLICA_DIR=/var/tmp/driftwatch-ci/pg-replica
PG_CTL=/usr/lib/postgresql/15/bin/pg_ctl

# A zombie postmaster (killed -9, never reaped) is not running, whatever pg_ctl says.
pid=$(head -n 1 "$REPLICA_DIR/postmaster.pid" 2>/dev/null || true)
if [[ -n $pid && $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]]; then
    runuser -u postgres -- "$PG_CTL" -D "$REPLICA_DIR" -m fast -w stop >/dev/null
    echo "replica  127.0.0.1:5433: stopped (data kept in $REPLICA_DIR)"
else
    echo "replica  127.0.0.1:5433: not running"
fi

REDIS_REPLICA_DIR=/var/tmp/driftwatch-ci/redis-replica
pid=$(cat "$REDIS_REPLICA_DIR/redis.pid" 2>/dev/null || true)
if [[ -n $pid && $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]] &&
    [[ $(redis-cli -h 127.0.0.1 -p 6380 PING 2>/dev/null) == PONG ]]; then
    redis-cli -h 127.0.0.1 -p 6380 SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "redis    127.0.0.1:6380: stopped (config kept in $REDIS_REPLICA_DIR)"
else
    echo "redis    127.0.0.1:6380: not running"
fi

MEMCACHED_PIDFILE=/var/tmp/driftwatch-ci/memcached/memcached.pid
pid=$(cat "$MEMCACHED_PIDFILE" 2>/dev/null || true)
if [[ -n $pid && $(ps -o comm= -p "$pid" 2>/dev/null) == memcached ]]; then
    kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$MEMCACHED_PIDFILE"
    echo "memcached 127.0.0.1:11211: stopped"
else
    echo "memcached 127.0.0.1:11211: not running"
fi
