#!/usr/bin/env bash
# A real S3-compatible server for the store tests: moto (PyPI) on 127.0.0.1:9310 with
# the bucket `driftwatch-ci`. Idempotent: installs moto into its own virtualenv once,
# starts the server unless it already answers, creates the bucket if missing.
set -euo pipefail
PORT=9310
BUCKET=driftwatch-ci
DIR=/var/tmp/driftwatch-ci/s3
VENV=/var/tmp/driftwatch-ci/venv-moto
mkdir -p "$DIR"

if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'moto[server]'
fi

up() { curl -s -o /dev/null "http://127.0.0.1:$PORT/"; }
if ! up; then
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 &
  echo $! >"$DIR/moto.pid"
  for _ in $(seq 1 100); do up && break; sleep 0.1; done
  up || { echo "s3: moto did not start on 127.0.0.1:$PORT"; tail -20 "$DIR/moto.log"; exit 1; }
  state="started"
else
  state="already running"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/$BUCKET")
if [ "$code" != "200" ]; then
  curl -s -o /dev/null -X PUT "http://127.0.0.1:$PORT/$BUCKET"
fi
echo "s3       127.0.0.1:$PORT: $state (moto), bucket $BUCKET"
