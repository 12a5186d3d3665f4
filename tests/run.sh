#!/usr/bin/env bash
# The test command: brings up the services the tests need on 127.0.0.1 (idempotent),
# then runs every test. Usage: bash tests/run.sh [cargo test args…]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup/tools.sh
bash tests/setup/services.sh
cargo test --all-targets "$@"
