"""Shared helpers of the engine-metadata generator: throwaway servers, free ports, and a
TOML writer whose output is the same for the same input (sorted, one line per setting).

Nothing here touches a system server: every server is started by the generator itself,
listens on 127.0.0.1 (or only on a Unix socket) on a port it picked, keeps its data in a
temporary folder and is stopped before the generator exits.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port nothing listens on right now on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, user=None, env=None, check=True, input=None, cwd=None):
    """Runs `args` (as `user` when given), returns (exit code, stdout, stderr) as text."""
    out = subprocess.run(
        as_user(args, user),
        env=env,
        input=input,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        check=False,
        cwd=cwd,
    )
    if check and out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.returncode, out.stdout, out.stderr


def as_user(args, user):
    if user is None or pwd.getpwuid(os.geteuid()).pw_name == user:
        return list(args)
    return ["runuser", "-u", user, "--"] + list(args)


def temp_dir(owner=None):
    path = tempfile.mkdtemp(prefix="driftwatch-metadata-")
    os.chmod(path, 0o755)
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


class Server:
    """A process the generator started; stopped (and waited for) on `stop`."""

    def __init__(self, args, user=None, cwd=None, env=None, log=None):
        self.log_path = log
        out = open(log, "w") if log else subprocess.DEVNULL
        # `runuser` would stand between us and the server: signals must reach the server.
        preexec = None
        if user is not None and pwd.getpwuid(os.geteuid()).pw_name != user:
            entry = pwd.getpwnam(user)

            def preexec():
                os.setgid(entry.pw_gid)
                os.initgroups(user, entry.pw_gid)
                os.setuid(entry.pw_uid)

        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()


def wait_for(ready, what, server=None, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None and not server.alive():
            raise SystemExit(f"{what} exited while starting:\n{server.log()}")
        if ready():
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} not ready after {seconds}s")


def remove(path):
    shutil.rmtree(path, ignore_errors=True)


# --- TOML output --------------------------------------------------------------------


def toml_str(s):
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def toml_key(k):
    if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k):
        return k
    return toml_str(k)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return inline_table(v)
    raise TypeError(f"cannot write {v!r} as TOML")


def inline_table(d, order=None):
    """`{ a = 1, b = "x" }`; keys in `order` first (in that order), then sorted; `None`
    values are left out."""
    order = order or []
    keys = [k for k in order if k in d] + sorted(k for k in d if k not in order)
    parts = [f"{toml_key(k)} = {toml_value(d[k])}" for k in keys if d[k] is not None]
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def write_file(path, header_lines, sections):
    """`sections`: list of (table name, dict of key → value or inline-table dict, key
    order for inline tables). Each key on its own line, sorted."""
    lines = [f"# {h}" if h else "#" for h in header_lines]
    for name, table, order in sections:
        lines.append("")
        lines.append(f"[{name}]")
        for key in sorted(table):
            value = table[key]
            text = inline_table(value, order) if isinstance(value, dict) else toml_value(value)
            lines.append(f"{toml_key(key)} = {text}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
