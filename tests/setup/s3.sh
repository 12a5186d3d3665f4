#!/usr/bin/env bash
# A real S3-compatible server for the store tests, ours: moto (PyPI) on 127.0.0.1:9310
# with the bucket `driftwatch-ci`, installed once into its own virtualenv
# $DRIFTWATCH_TEST_DIR/venv-moto (python3 -m venv, pip install 'moto[server]'), its pid
# file and log in $DRIFTWATCH_TEST_DIR/s3 (`-PORT` appended at another port). Adopted
# only when the moto_server of that pid file listens on the port. Changes nothing else.
#
#   DRIFTWATCH_TEST_S3_PORT=9310
#
# Usage (as root): bash tests/setup/s3.sh [up|check|stop]   (services.sh runs it)
#   stop: stops moto (by its pid file); the objects are gone with it (moto keeps them in
#   memory); the virtualenv stays.
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

test_port DRIFTWATCH_TEST_S3_PORT 9310
PORT=$DRIFTWATCH_TEST_S3_PORT
BUCKET=driftwatch-ci
DIR=$(instance_dir s3 "$PORT" 9310)
PIDFILE=$DIR/moto.pid
VENV=$DRIFTWATCH_TEST_DIR/venv-moto
WAIT_SECONDS=30
LABEL="s3         127.0.0.1:$PORT"

answers() { curl -s -o /dev/null "http://127.0.0.1:$PORT/"; }
ours_up() { [[ $(port_owner "$PORT" "$PIDFILE") == ours ]] && answers; }

check_ports() {
    local problems=() p
    p=$(check_ours "$PORT" "$PIDFILE" DRIFTWATCH_TEST_S3_PORT "the test S3 server (moto, pid file $PIDFILE)") ||
        problems+=("$p")
    report_problems "${problems[@]}"
}

case $MODE in
    check)
        require_root "needs the pid file"
        check_ports
        ;;
    up)
        require_root "writes $DRIFTWATCH_TEST_DIR"
        check_ports || exit 1
        did=()
        if [[ ! -x $VENV/bin/moto_server ]]; then
            will "$LABEL" "create the virtualenv $VENV and pip install 'moto[server]' into it (from PyPI)"
            python3 -m venv "$VENV"
            "$VENV/bin/pip" install -q 'moto[server]'
            did+=("installed moto")
        fi
        if ours_up; then
            did+=("already running (moto, pid file $PIDFILE)")
        else
            will "$LABEL" "start moto_server (pid file $PIDFILE, log $DIR/moto.log)"
            mkdir -p "$DIR"
            nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 &
            echo $! >"$PIDFILE"
            wait_for ours_up || { tail -n 20 "$DIR/moto.log" >&2; die "moto did not start on 127.0.0.1:$PORT"; }
            did+=("started (moto, pid file $PIDFILE)")
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/$BUCKET")
        if [[ $code != 200 ]]; then
            will "$LABEL" "create the bucket $BUCKET"
            curl -s -o /dev/null -X PUT "http://127.0.0.1:$PORT/$BUCKET"
            did+=("bucket $BUCKET created")
        else
            did+=("bucket $BUCKET present")
        fi
        say "$LABEL" "$(joined "${did[@]}")"
        ;;
    stop)
        require_root "needs the pid file"
        if [[ -n $(pidfile_pid "$PIDFILE") ]]; then
            start-stop-daemon --stop --quiet --pidfile "$PIDFILE" --retry TERM/10/KILL/5 || true
            rm -f "$PIDFILE"
            say "$LABEL" "stopped"
        else
            say "$LABEL" "not running"
        fi
        ;;
esac
