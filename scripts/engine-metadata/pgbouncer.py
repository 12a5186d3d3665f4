"""PgBouncer: every setting of `SHOW CONFIG`, as a throwaway pgbouncer answers it.

A pgbouncer is started (as the postgres user) on a file that sets only what it needs to
run here and be asked: `listen_addr = 127.0.0.1` on a free port, no Unix socket,
`auth_type = trust` with an auth file of one user who is in `admin_users`, and no log
file. Its `SHOW CONFIG` gives, per setting, the value it runs with (`default`: for the
settings that file leaves alone), PgBouncer's own default column for the ones it sets,
and `changeable` (whether RELOAD/SET applies it; `false` = a restart). Settings whose
value is the file's path are marked `varies`.
"""

import os
import subprocess

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
        return {"version": version, "settings": settings}
    finally:
        server.stop()
        remove(tmp)


def ask(port, command):
    """Rows of one console command, or None while pgbouncer does not answer."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", ADMIN, "-d", "pgbouncer",
         "-XAtq", "-F", "\t", "-c", command],
        env=ENV, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    return [line.split("\t") for line in out.stdout.splitlines()]
