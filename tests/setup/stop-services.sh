#!/usr/bin/env bash
# Stops the test replica started by tests/setup/services.sh. Leaves the system
# PostgreSQL (the primary on 127.0.0.1:5432), its slot and the replica's data dir alone,
# so the next services.sh run restarts the replica quickly.
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

# The S3-compatible server (moto).
S3_PID=/var/tmp/driftwatch-ci/s3/moto.pid
if [[ -f $S3_PID ]] && kill "$(cat "$S3_PID")" 2>/dev/null; then
    rm -f "$S3_PID"
    echo "s3       127.0.0.1:9310: stopped"
else
    echo "s3       127.0.0.1:9310: not running"
fi
