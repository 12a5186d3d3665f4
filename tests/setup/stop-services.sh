#!/usr/bin/env bash
# Stops the test services started by tests/setup/services.sh: the PostgreSQL, MariaDB
# and Redis replicas, memcached and the S3-compatible server. Leaves the system
# PostgreSQL, MariaDB and Redis (the primaries) alone, and the replicas' data, so the
# next services.sh run restarts the replicas quickly.
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

# The MariaDB replica (tests/setup/mariadb.sh).
MARIADB_REPLICA_DIR=/var/tmp/driftwatch-ci/mariadb-replica
pid=$(head -n 1 "$MARIADB_REPLICA_DIR/mysqld.pid" 2>/dev/null || true)
if [[ -n $pid && $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]]; then
    mariadb-admin --protocol=socket -S "$MARIADB_REPLICA_DIR/mysqld.sock" -u root shutdown 2>/dev/null ||
        kill "$pid"
    for _ in $(seq 60); do
        [[ $(ps -o stat= -p "$pid" 2>/dev/null) == [^Z]* ]] || break
        sleep 1
    done
    echo "replica  127.0.0.1:3307: stopped (data kept in $MARIADB_REPLICA_DIR)"
else
    echo "replica  127.0.0.1:3307: not running"
fi

# The S3-compatible server (moto).
S3_PID=/var/tmp/driftwatch-ci/s3/moto.pid
if [[ -f $S3_PID ]] && kill "$(cat "$S3_PID")" 2>/dev/null; then
    rm -f "$S3_PID"
    echo "s3       127.0.0.1:9310: stopped"
else
    echo "s3       127.0.0.1:9310: not running"
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
