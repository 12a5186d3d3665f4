#!/usr/bin/env bash
# Memcached test service on 127.0.0.1:11211 (TCP only, UDP off), installed from Debian
# when missing. No systemd here: started as a daemon with a pidfile.
#
# Usage (as root): bash tests/setup/memcached.sh    (services.sh runs it)
# Stop it: bash tests/setup/stop-services.sh
set -euo pipefail

PORT=11211
# memcached writes its pid file after dropping to the memcache user: give it a folder it owns.
PIDFILE=/var/tmp/driftwatch-ci/memcached/memcached.pid
WAIT_SECONDS=10

die() { echo "memcached.sh: $*" >&2; exit 1; }
answers() {
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'version\r\n' >&3
    local line=""
    read -r -t 2 line <&3 2>/dev/null || true
    exec 3<&- 3>&-
    [[ $line == VERSION* ]]
}

[[ $(id -u) == 0 ]] || die "run as root"
did=""
if [[ ! -x /usr/bin/memcached ]]; then
    export DEBIAN_FRONTEND=noninteractive
    # Others may be installing packages: wait for the dpkg lock rather than fail.
    apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
    if ! apt_get install -y -qq --no-install-recommends memcached >/dev/null 2>&1; then
        apt_get update -qq
        apt_get install -y -qq --no-install-recommends memcached >/dev/null
    fi
    did="installed, "
fi
if answers; then
    echo "memcached 127.0.0.1:$PORT: ${did}already running"
    exit 0
fi
user=memcache
id -u "$user" >/dev/null 2>&1 || user=root
install -d -o "$user" -m 0755 "$(dirname "$PIDFILE")"
/usr/bin/memcached -d -l 127.0.0.1 -p "$PORT" -U 0 -u "$user" -P "$PIDFILE"
deadline=$((SECONDS + WAIT_SECONDS))
until answers; do
    ((SECONDS < deadline)) || die "not answering on 127.0.0.1:$PORT after ${WAIT_SECONDS}s"
    sleep 0.2
done
echo "memcached 127.0.0.1:$PORT: ${did}started (TCP only, user $user, pid file $PIDFILE)"
