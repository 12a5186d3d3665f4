"""PgBouncer: every setting of `SHOW CONFIG`, as a throwaway pgbouncer answers it.

A pgbouncer is started (as the postgres user) on a file that sets only what it needs to
run here and be asked: `listen_addr = 127.0.0.1` on a free port, no Unix socket,
`auth_type = trust` with an auth file of one user who is in `admin_users`, and no log
file. Its `SHOW CONFIG` gives, per setting, the value it runs with (`default`: for the
settings that file leaves alone), PgBouncer's own default column for the ones it sets,
and `changeable` (whether RELOAD/SET applies it; `false` = a restart). Settings whose
value is the file's path are marked `varies`.

Each setting's `type` is asked of pgbouncer itself: a pgbouncer is started with the
setting set to `abc` in its file (taken: `string`), else to `0.5` (taken: `time`,
seconds as a float), else `int` (a number only) — or, when its default is a name,
`lookup`, whose `values` are the names from the manual's lists it takes. A value of the
wrong type makes pgbouncer log `invalid value` and exit.
"""

import os
import subprocess
import time

from common import Server, free_port, remove, run, temp_dir, wait_for

BIN = "/usr/sbin/pgbouncer"
USER = "postgres"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
ADMIN = "driftwatch_metadata"
# Set by our file; their default comes from SHOW CONFIG's `default` column instead.
OURS = {"listen_addr", "listen_port", "unix_socket_dir", "auth_type", "auth_file",
        "admin_users", "logfile", "pidfile"}
VARIES = {"conffile": "start-up"}


def generate(_out_dir):
    tmp = temp_dir(owner=USER)
    port = free_port()
    ini = os.path.join(tmp, "pgbouncer.ini")
    users = os.path.join(tmp, "userlist.txt")
    with open(users, "w") as f:
        f.write(f'"{ADMIN}" ""\n')
    with open(ini, "w") as f:
        f.write("[databases]\n[pgbouncer]\n"
                f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
                f"auth_type = trust\nauth_file = {users}\nadmin_users = {ADMIN}\n")
    for path in (ini, users):
        run(["chown", USER, path])
    server = Server([BIN, ini], user=USER, env=ENV, log=os.path.join(tmp, "log"))
    try:
        wait_for(lambda: ask(port, "SHOW VERSION") is not None, "pgbouncer", server)
        version = ask(port, "SHOW VERSION")[0][0].removeprefix("PgBouncer ").strip()
        settings = {}
        for key, value, default, changeable in ask(port, "SHOW CONFIG"):
            s = {}
            if key in VARIES:
                s["varies"] = VARIES[key]
            else:
                s["default"] = default if key in OURS else value
            s["changeable"] = changeable == "yes"
            settings[key] = s
        for key, s in settings.items():
            if key in VARIES:
                s["type"] = "string"
            else:
                s.update(probe_type(tmp, key, s["default"]))
        return {"version": version, "settings": settings}
    finally:
        server.stop()
        remove(tmp)


# Candidate names of the lookup settings (pgbouncer(5)); kept when pgbouncer takes them.
LOOKUP_CANDIDATES = ["any", "trust", "plain", "md5", "cert", "hba", "pam", "scram-sha-256",
                     "session", "transaction", "statement", "disable", "allow", "prefer",
                     "require", "verify-ca", "verify-full"]


def probe_type(tmp, key, default):
    if takes(tmp, key, "abc"):
        return {"type": "string"}
    if takes(tmp, key, "0.5"):
        return {"type": "time"}
    if default and not default.lstrip("-").isdigit():
        values = [v for v in LOOKUP_CANDIDATES if takes(tmp, key, v)]
        return {"type": "lookup", "values": values}
    return {"type": "int"}


def takes(tmp, key, value):
    """Whether a pgbouncer started with `key = value` in its file takes the value: it
    logs `invalid value` and exits when it does not (other failures, such as a
    listen_addr it cannot bind, are not about the value's type)."""
    port = free_port()
    ini = os.path.join(tmp, "probe.ini")
    log = os.path.join(tmp, "probe.log")
    with open(ini, "w") as f:
        f.write("[databases]\n[pgbouncer]\n"
                f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
                f"auth_type = trust\nauth_file = {tmp}/userlist.txt\nadmin_users = {ADMIN}\n"
                f"{key} = {value}\n")
    run(["chown", USER, ini])
    server = Server([BIN, ini], user=USER, env=ENV, cwd=tmp, log=log)
    try:
        for _ in range(200):
            if not server.alive() or ask(port, "SHOW VERSION") is not None:
                break
            time.sleep(0.02)
    finally:
        server.stop()
    return "invalid value" not in server.log()


def ask(port, command):
    """Rows of one console command, or None while pgbouncer does not answer."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", ADMIN, "-d", "pgbouncer",
         "-XAtq", "-F", "\t", "-c", command],
        env=ENV, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    return [line.split("\t") for line in out.stdout.splitlines()]
