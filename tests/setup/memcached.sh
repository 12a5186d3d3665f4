#!/usr/bin/env bash
# Memcached test service of ours on 127.0.0.1:11211 (TCP only, UDP off), started as a
# daemon with a pid file in $DRIFTWATCH_TEST_DIR/memcached (`-PORT` appended at another
# port) and adopted only when the memcached of that pid file listens on the port.
# memcached itself comes from tools.sh (Debian package memcached). Changes nothing else.
#
#   DRIFTWATCH_TEST_MEMCACHED_PORT=11211
#
# Usage (as root): bash tests/setup/memcached.sh [up|check|stop]   (services.sh runs it)
#   stop: stops it (by its pid file).
set -euo pipefail
# shellcheck source=tests/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODE=$(setup_mode "${1:-}")

test_port DRIFTWATCH_TEST_MEMCACHED_PORT 11211
PORT=$DRIFTWATCH_TEST_MEMCACHED_PORT
DIR=$(instance_dir memcached "$PORT" 11211)
# memcached writes its pid file after dropping to the memcache user: a folder it owns.
PIDFILE=$DIR/memcached.pid
WAIT_SECONDS=10
LABEL="memcached  127.0.0.1:$PORT"

answers() {
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'version\r\n' >&3
    local line=""
    read -r -t 2 line <&3 2>/dev/null || true
    exec 3<&- 3>&-
    [[ $line == VERSION* ]]
}
ours_up() { [[ $(port_owner "$PORT" "$PIDFILE") == ours ]] && answers; }

check_ports() {
    local problems=() p
    p=$(check_ours "$PORT" "$PIDFILE" DRIFTWATCH_TEST_MEMCACHED_PORT "the test memcached (pid file $PIDFILE)") ||
        problems+=("$p")
    report_problems "${problems[@]}"
}

case $MODE in
    check)
        require_root "needs the pid file"
        check_ports
        ;;
    up)
        require_root "starts memcached as the memcache user"
        [[ -x /usr/bin/memcached ]] || die "memcached is not installed: bash tests/setup/tools.sh installs it"
        check_ports || exit 1
        if ours_up; then
            say "$LABEL" "already running (pid file $PIDFILE)"
            exit 0
        fi
        user=memcache
        id -u "$user" >/dev/null 2>&1 || user=root
        will "$LABEL" "start memcached (TCP only, user $user, pid file $PIDFILE)"
        install -d -o "$user" -m 0755 "$DIR"
        /usr/bin/memcached -d -l 127.0.0.1 -p "$PORT" -U 0 -u "$user" -P "$PIDFILE"
        wait_for ours_up || die "not answering on 127.0.0.1:$PORT after ${WAIT_SECONDS}s"
        say "$LABEL" "started (TCP only, user $user, pid file $PIDFILE)"
        ;;
    stop)
        require_root "needs the pid file"
        if [[ -n $(pidfile_pid "$PIDFILE") ]]; then
            start-stop-daemon --stop --quiet --pidfile "$PIDFILE" --exec /usr/bin/memcached --retry TERM/10/KILL/5 || true
            rm -f "$PIDFILE"
            say "$LABEL" "stopped"
        else
            say "$LABEL" "not running"
        fi
        ;;
esac
