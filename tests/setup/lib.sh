# Sourced by every script in tests/setup/: the data folder, the port variables, the
# ownership rules and the output conventions they share. Not a script of its own.
#
# Ownership. A server is *ours* when the process that listens on its port is the one
# whose pid is in the pid file inside our data folder ($DRIFTWATCH_TEST_DIR/<name>).
# Ours may be stopped, restarted, reconfigured or recreated; anything else on one of
# our ports is *foreign* and is never touched: the setup stops before changing anything
# and names the port and the variable that moves it. The system servers (the
# primaries) are never ours: they are started when down, reconfigured only as the
# script that owns them says, and never stopped for good.
#
# Output. One line per step, `<service> <address>: <what>`. A line with `will` comes
# before every change to the machine; services.sh ends with how many there were.

# The folder that holds every data directory, pid file, log and virtualenv the setup
# creates. Nothing of ours lives outside it except the edits each script lists.
DRIFTWATCH_TEST_DIR=${DRIFTWATCH_TEST_DIR:-/var/tmp/driftwatch-ci}
[[ $DRIFTWATCH_TEST_DIR == /* ]] || { echo "DRIFTWATCH_TEST_DIR=$DRIFTWATCH_TEST_DIR is not an absolute path" >&2; exit 1; }
export DRIFTWATCH_TEST_DIR
SCRIPT=$(basename "$0")

die() {
    echo "$SCRIPT: $*" >&2
    exit 1
}

# `test_port VAR DEFAULT`: sets and exports $VAR to its value (DEFAULT when unset or
# empty), validated, so the tests built afterwards read the same port. Registers it in
# $DRIFTWATCH_SETUP_PORTS (when services.sh made one) to catch two services on one port.
test_port() {
    local var=$1 default=$2 value
    value=${!var:-$default}
    if ! [[ $value =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
        die "$var=$value is not a port number (1-65535)"
    fi
    value=$((10#$value))
    export "$var=$value"
    if [[ -n ${DRIFTWATCH_SETUP_PORTS:-} ]]; then
        local other
        other=$(awk -v p="$value" -v v="$var" '$2 == p && $1 != v { print $1; exit }' "$DRIFTWATCH_SETUP_PORTS")
        [[ -z $other ]] || die "$var and $other are both $value: give each service its own port"
        grep -qx "$var $value" "$DRIFTWATCH_SETUP_PORTS" || echo "$var $value" >>"$DRIFTWATCH_SETUP_PORTS"
    fi
}

# `instance_dir NAME PORT DEFAULT_PORT`: the data folder of one of our servers. At its
# default port it has the plain name earlier setups used (so an existing setup is
# adopted as it is); at any other port the name carries the port, so moving a port
# never points two servers at one folder. tests/support/ports.rs names them the same.
instance_dir() {
    if [[ $2 == "$3" ]]; then
        echo "$DRIFTWATCH_TEST_DIR/$1"
    else
        echo "$DRIFTWATCH_TEST_DIR/$1-$2"
    fi
}

# `say LABEL TEXT` prints a step; `will LABEL TEXT` announces a change before it is
# made, and counts it.
say() { echo "$1: $2"; }
will() {
    echo "$1: will $2"
    if [[ -n ${DRIFTWATCH_SETUP_CHANGES:-} ]]; then
        echo "$1: $2" >>"$DRIFTWATCH_SETUP_CHANGES"
    fi
}

# `joined ITEM…`: the items separated by ", " (nothing for none).
joined() {
    local out="" item
    for item in "$@"; do out+=${out:+, }$item; done
    echo "$out"
}

# Until the command succeeds, at most WAIT_SECONDS (default 60).
wait_for() {
    local deadline=$((SECONDS + ${WAIT_SECONDS:-60}))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# A process killed with -9 can linger as a zombie where nothing reaps orphans (PID 1 is
# not an init in a container): a zombie is not running.
pid_running() {
    [[ -n ${1:-} && $1 =~ ^[0-9]+$ && $(ps -o stat= -p "$1" 2>/dev/null) == [^Z]* ]]
}

# The pid in a pid file (first line) when that process runs, else nothing.
pidfile_pid() {
    local pid
    pid=$(head -n 1 "$1" 2>/dev/null | tr -d '[:space:]') || true
    if pid_running "$pid"; then echo "$pid"; fi
}

# The pids that listen on TCP `port`, on any address (a server on 0.0.0.0 or :: takes
# 127.0.0.1's port too), one per line.
listener_pids() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un
}

port_listened() { [[ -n $(listener_pids "$1") ]]; }

# True when `pid` is one of the processes listening on `port`.
pid_listens() {
    [[ -n ${2:-} ]] && listener_pids "$1" | grep -qx "$2"
}

# `port_owner PORT PIDFILE`: "free", "ours" (the pid file's process listens on it) or
# "foreign".
port_owner() {
    local pid
    port_listened "$1" || { echo free; return; }
    pid=$(pidfile_pid "$2")
    if pid_listens "$1" "$pid"; then echo ours; else echo foreign; fi
}

# A process as `pid N (command line)`, shortened.
describe_pids() {
    local pid out=()
    for pid in "$@"; do
        out+=("pid $pid ($(ps -o args= -p "$pid" 2>/dev/null | cut -c 1-100))")
    done
    local IFS=,
    echo "${out[*]}"
}

# True when a test variable names `port` already, or a suggestion does.
port_named() {
    local file
    for file in "${DRIFTWATCH_SETUP_PORTS:-}" "${DRIFTWATCH_SETUP_SUGGEST:-}"; do
        [[ -n $file ]] && awk -v p="$1" '$2 == p { f = 1 } END { exit !f }' "$file" && return 0
    done
    return 1
}

# The first port above `port` nothing listens on and no test variable names.
free_port_above() {
    local p=$(($1 + 1))
    while ((p <= 65535)); do
        if ! port_listened "$p" && ! port_named "$p"; then
            echo "$p"
            return
        fi
        p=$((p + 1))
    done
}

# `foreign_port PORT VAR WHAT`: the message for a port some other server holds, with a
# free port to move to (also kept in $DRIFTWATCH_SETUP_SUGGEST for services.sh).
foreign_port() {
    local port=$1 var=$2 what=$3 pids free
    mapfile -t pids < <(listener_pids "$port")
    free=$(free_port_above "$port")
    if [[ -n ${DRIFTWATCH_SETUP_SUGGEST:-} ]]; then echo "$var $free" >>"$DRIFTWATCH_SETUP_SUGGEST"; fi
    echo "127.0.0.1:$port is taken by $(describe_pids "${pids[@]}"), which is not $what." \
        "The setup leaves it alone: stop it, or put the test server on another port:" \
        "$var=$free bash tests/run.sh (the tests read the same variable)."
}

# `foreign_system_port PORT VAR WHAT`: the message for a system server's port that
# another process holds (the system server's port is its own configuration's: the
# variable can only name it, not move it).
foreign_system_port() {
    local port=$1 var=$2 what=$3 pids
    mapfile -t pids < <(listener_pids "$port")
    echo "127.0.0.1:$port is taken by $(describe_pids "${pids[@]}"), which is not $what." \
        "The setup leaves it alone: stop it, or set $var to the port $what listens on."
}

# `check_ours PORT PIDFILE VAR WHAT`: prints the problem, returns 1, when a foreign
# server holds PORT.
check_ours() {
    [[ $(port_owner "$1" "$2") != foreign ]] || { foreign_port "$1" "$3" "$4"; return 1; }
}

# `report_problems PROBLEM…`: prints each (there may be none) and fails when there is one.
report_problems() {
    local p
    for p in "$@"; do echo "$SCRIPT: $p" >&2; done
    (($# == 0))
}

# The script's mode: `up` (default: check, then bring up), `check` (only say whether
# the ports are free or ours; change nothing) or `stop` (stop what the setup started).
setup_mode() {
    case ${1:-up} in
        up | check | stop) echo "${1:-up}" ;;
        *) die "usage: $SCRIPT [up|check|stop]" ;;
    esac
}

require_root() {
    [[ $(id -u) == 0 ]] || die "run as root ($1)"
    command -v ss >/dev/null || die "needs ss (Debian package iproute2) to see who listens on a port"
}
