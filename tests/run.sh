#!/usr/bin/env bash
# The test command (as root; what it installs, edits and starts: README.md, "The test
# command", and docs/development.md): installs the missing programs (tests/setup/
# tools.sh), brings up the test services (tests/setup/services.sh, which checks every
# port first and changes nothing when one is held by a server that is not ours), then
# runs every test. Ports come from the DRIFTWATCH_TEST_* variables; the tests read the
# same ones, with the same defaults.
#
# Usage: [DRIFTWATCH_TEST_…=…] bash tests/run.sh [cargo test args…]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup/tools.sh
bash tests/setup/services.sh
cargo test --all-targets "$@"
