#!/usr/bin/env bash
# Installs the programs the tests drive (Debian packages): headless Chromium for the
# report tests, promtool (package prometheus) for the alert rules in
# deploy/prometheus. Idempotent; quiet when everything is there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "tools: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "tools: chromium $(chromium --version 2>/dev/null | awk '{print $2}')"
echo "tools: $(promtool --version 2>/dev/null | head -n 1)"
