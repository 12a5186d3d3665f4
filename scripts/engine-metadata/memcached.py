"""memcached: its options, the `stats settings` of a throwaway server started with none,
and which `stats settings` value each option sets, all as the server answers.

- Options: every `-x` / `--long` of `memcached -h`, and the `-o` sub-options it lists.
  Whether an option takes an argument is asked of memcached's own getopt: started
  with the option last and nothing after it, it says "requires an argument" or runs.
- Defaults: `stats settings` of `memcached -s <tmp>/sock -u memcache` (a Unix socket
  only, no TCP or UDP listener). `domain_socket` is ours: its default comes from a
  second server started with `-l 127.0.0.1 -p <free port> -U 0` instead.
- Keys: each option is given to a server started the same way with a probe value (the
  first of a few it accepts: numbers, then a value of the kind the help names), and
  every `stats settings` value that differs from the defaults is recorded as what that
  probe set (`sets = { maxbytes = "7340032" }` for `-m 7`). Probes whose server would
  not start (TLS without certificates, SASL, large pages) record the refusal instead.
"""

import os
import re
import signal
import socket
import time

from common import Server, free_port, remove, temp_dir

BIN = "/usr/bin/memcached"
USER = "memcache"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
# Probe values, tried in order until the server starts with one: numbers first, then by
# the help's placeholder.
NUMBERS = ["7", "20", "2048", "2m"]
BY_PLACEHOLDER = {
    "addr": ["127.0.0.1"],
    "mask": ["644"],
    "name": ["ascii"],
    "char": ["#"],
    "user": [USER],
}
# Options that stop the process or leave our control: not probed for keys.
NOT_PROBED = {"h", "i", "V", "d", "u", "s"}


def generate(_out_dir):
    tmp = temp_dir(owner=USER)
    try:
        options, suboptions = help_options()
        for short, o in options.items():
            if short in NOT_PROBED:
                o["argument"] = "required" if "placeholder" in o else "none"
            else:
                o["argument"] = argument(tmp, short, o)
        base = stats(tmp, [])
        domain_default = stats_tcp(tmp)["domain_socket"]
        version = base.pop("__version__")
        defaults = dict(base)
        defaults["domain_socket"] = domain_default
        for short, o in options.items():
            if short in NOT_PROBED:
                continue
            probe_option(tmp, base, o, [f"-{short}"], o.get("placeholder"))
        # The help lists some sub-options; their positive forms (`lru_crawler` for
        # `no_lru_crawler`) and names like the `stats settings` keys are asked too, and
        # kept when memcached takes them.
        listed = set(suboptions)
        candidates = listed | {n[3:] for n in listed if n.startswith("no_")} | set(base)
        subs = {}
        for name in sorted(candidates):
            s = {}
            probe_option(tmp, base, s, ["-o"], "sub:" + name)
            if name in listed or "refused" not in s or "Illegal suboption" not in s["refused"]:
                subs[name] = s
        # Paths under our temporary folder: written as `<tmp>` so the file is the same
        # on every run.
        for table in (options, subs):
            for record in table.values():
                for key in ("probe", "refused"):
                    if isinstance(record.get(key), str):
                        record[key] = record[key].replace(tmp, "<tmp>")
                for k, v in record.get("sets", {}).items():
                    record["sets"][k] = v.replace(tmp, "<tmp>")
        for o in options.values():
            o.pop("placeholder", None)
        return {"version": version, "defaults": defaults, "options": options,
                "suboptions": subs}
    finally:
        remove(tmp)


def help_options():
    out = run_out([BIN, "-h"])
    options, subs = {}, []
    for line in out.splitlines():
        m = re.match(r"^-(\w)(?:,\s*|\s+)(--[\w-]+)?(?:=?<(\w+)>)?", line)
        if m and not line.startswith("-vv"):
            short, long, placeholder = m.group(1), m.group(2), m.group(3)
            if placeholder is None:
                m2 = re.match(r"^-\w\s+<(\w+)>", line)
                placeholder = m2.group(1) if m2 else None
            o = {}
            if long:
                o["long"] = long[2:]
            if placeholder:
                o["placeholder"] = placeholder
            options[short] = o
            continue
        m = re.match(r"^\s+- (\w+):", line)
        if m:
            subs.append(m.group(1))
    if len(options) < 20:
        raise SystemExit(f"memcached -h listed only {len(options)} options")
    return options, subs


def run_out(args):
    import subprocess
    out = subprocess.run(args, capture_output=True, text=True, env=ENV, check=False)
    return out.stdout + out.stderr


def argument(tmp, short, o):
    """`required`, `optional` or `none`, as getopt says for `-x` given last."""
    sock = os.path.join(tmp, "arg.sock")
    text, _ = start_and_stop(tmp, ["-u", USER, "-s", sock, f"-{short}"], sock)
    return "required" if "requires an argument" in text else "none"


def start_and_stop(tmp, args, sock, keep=None):
    """Starts memcached with `args`; returns (its output, whether it came up). With
    `keep`, calls keep(sock) while it runs."""
    if os.path.exists(sock):
        os.unlink(sock)
    log = os.path.join(tmp, "probe.log")
    server = Server([BIN] + args, env=ENV, log=log, cwd=tmp)
    deadline = time.monotonic() + 10
    while server.alive() and not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.01)
    up = server.alive() and os.path.exists(sock)
    result = None
    if up and keep is not None:
        result = keep(sock)
    # A throwaway with nothing to keep: no need to wait for a graceful exit.
    server.stop(signal.SIGKILL)
    return (server.log(), up) if keep is None else (server.log(), up, result)


def read_stats(path, family=socket.AF_UNIX, auth=False):
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(path)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    if auth:
        # ASCII authentication (-Y): the token is sent as a set of `user password`.
        s.sendall(b"set auth 0 0 12\r\nprobe secret\r\n")
        line = b""
        while not line.endswith(b"\r\n"):
            line += s.recv(1)
    s.sendall(b"version\r\nstats settings\r\n")
    buf = b""
    while not buf.endswith(b"END\r\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    out = {}
    for line in buf.decode(errors="replace").splitlines():
        if line.startswith("VERSION "):
            out["__version__"] = line.split(" ", 1)[1]
        elif line.startswith("STAT "):
            _, k, v = line.split(" ", 2)
            out[k] = v
    return out


def stats(tmp, extra):
    sock = os.path.join(tmp, "main.sock")
    text, up, result = start_and_stop(tmp, ["-u", USER, "-s", sock] + extra, sock,
                                      keep=read_stats)
    if not up:
        raise SystemExit(f"memcached {' '.join(extra)} did not start:\n{text}")
    return result


def stats_tcp(tmp):
    port = free_port()
    server = Server([BIN, "-u", USER, "-l", "127.0.0.1", "-p", str(port), "-U", "0"], env=ENV,
                    log=os.path.join(tmp, "tcp.log"), cwd=tmp)
    try:
        return read_stats(("127.0.0.1", port), socket.AF_INET)
    finally:
        server.stop()


def probe_option(tmp, base, record, flag, placeholder):
    sock = os.path.join(tmp, "main.sock")
    if placeholder and placeholder.startswith("sub:"):
        name = placeholder[4:]
        candidates = [name] + [f"{name}={v}" for v in NUMBERS]
    elif record.get("argument", "none") == "none" and placeholder is None:
        candidates = [None]
    elif placeholder == "file":
        # An existing file holding `user:password` (what -Y wants); one per option.
        path = os.path.join(tmp, "probe" + flag[0])
        with open(path, "w") as f:
            f.write("probe:secret\n")
        os.chmod(path, 0o644)
        candidates = [path]
    else:
        candidates = BY_PLACEHOLDER.get(placeholder, NUMBERS)
    refusal = None
    for value in candidates:
        args = flag + ([value] if value is not None else [])
        keep = (lambda p: read_stats(p, auth=True)) if flag == ["-Y"] else read_stats
        text, up, result = start_and_stop(tmp, ["-u", USER, "-s", sock] + args, sock,
                                          keep=keep)
        if up:
            result.pop("__version__", None)
            changed = {k: v for k, v in result.items() if base.get(k) != v}
            record["probe"] = value if value is not None else ""
            record["sets"] = changed
            return
        refusal = text.strip().splitlines()[-1] if text.strip() else "exited"
    record["refused"] = refusal
