#!/usr/bin/env bash
# Stops the servers the test setup started, each by the pid file in its own folder under
# $DRIFTWATCH_TEST_DIR: the PostgreSQL, MariaDB and Redis replicas, memcached, PgBouncer, moto (and
# a Redis that redis.sh started because none ran on the system Redis's port). Never a
# system server (PostgreSQL, MariaDB, Redis) and never a server that is not ours. Data,
# configs and the edits to the system servers stay: the next services.sh run starts the
# replicas again quickly (docs/development.md says how to undo the edits).
#
# Usage (as root): bash tests/setup/stop-services.sh   (the same DRIFTWATCH_TEST_* ports
# as the run that started them)
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/services.sh" stop
