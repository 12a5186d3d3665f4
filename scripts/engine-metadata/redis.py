"""Redis: every config of a throwaway redis-server started without a configuration file,
its type, range or values, and its aliases, all as the server itself answers.

- Defaults: `CONFIG GET *` of `redis-server --port 0 --unixsocket <tmp>/s.sock` (no TCP
  listener at all), started in a temporary folder with no persistence configured.
  `port` and `unixsocket` are our own options: `port`'s default is read from a second
  server started without `--port`, bound to 127.0.0.2 only; `unixsocket`'s is empty.
  `dir` is the working directory the server was started in (`varies`).
- Types: `CONFIG SET <name> <probe>` with values the server refuses, and its answer:
  "couldn't be parsed into an integer" (integer), "must be a memory value" (bytes,
  with k/kb/m/mb/g/gb units), "must be a memory or percent value", "must be 'yes' or
  'no'" (boolean), "must be one of the following: …" (enum, with its values), "must
  be between A and B inclusive" (the range). A probe the server takes (a string) is
  put back. Immutable configs ("can't set immutable config") are probed by starting a
  server with `--<name> <probe>` and reading its fatal error.
- Aliases: each config is set to a new value (CONFIG SET, or for configs only the
  command line sets, a server started with it); every other config whose
  `CONFIG GET` value changed with it is an alias (`slave-*` / `replica-*`,
  `hash-max-ziplist-*` / `hash-max-listpack-*`, …). Then it is put back.
- Commands: `COMMAND LIST` (what `rename-command` may name).
- `hz`-like clamping: a number accepted but shown otherwise (`CONFIG SET hz 100000`
  shows 500) is recorded as the value shown at the top of the range (`shown_max`).
"""

import os
import re
import signal
import socket
import time

from common import Server, remove, temp_dir, wait_for

ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
BIN = "/usr/bin/redis-server"
NONSENSE = "x-y-z"


class Client:
    """The RESP protocol over a Unix socket, enough for CONFIG and INFO."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""

    def call(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a.encode("utf-8", "surrogateescape")
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("redis-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode("utf-8", "surrogateescape")
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise SystemExit(f"unexpected reply {line!r}")

    def config(self):
        pairs = self.call("CONFIG", "GET", "*")
        return dict(zip(pairs[0::2], pairs[1::2]))


class Error(str):
    pass


def generate(_out_dir):
    tmp = temp_dir()
    servers = []
    try:
        sock = os.path.join(tmp, "main.sock")
        # No `--save ""` here: `save` keeps its default. Nothing is written (no SHUTDOWN SAVE).
        main = Server([BIN, "--port", "0", "--unixsocket", sock], cwd=tmp, env=ENV,
                      log=os.path.join(tmp, "main.log"))
        servers.append(main)
        wait_for(lambda: os.path.exists(sock), "redis-server", main)
        client = connect(sock, main)
        version = client.call("INFO", "server").split("redis_version:")[1].split()[0]
        defaults = client.config()
        configs = {}
        for name in sorted(defaults):
            configs[name] = probe(client, name, defaults[name], tmp)
        aliases(client, defaults, configs)
        immutable_aliases(tmp, defaults, configs, servers)
        commands = sorted(client.call("COMMAND", "LIST"))
        # Our own options, and the working directory.
        configs["port"]["default"] = default_port(tmp, servers)
        configs["unixsocket"]["default"] = ""
        configs["unixsocketperm"]["default"] = defaults["unixsocketperm"]
        configs["dir"]["varies"] = "start-up"
        configs["dir"].pop("default", None)
        return {"version": version, "configs": configs, "commands": commands}
    finally:
        for s in servers:
            s.stop()
        remove(tmp)


def connect(sock, server):
    deadline = time.monotonic() + 30
    while True:
        try:
            client = Client(sock)
            if client.call("PING") == "PONG":
                return client
        except OSError:
            pass
        if time.monotonic() > deadline or not server.alive():
            raise SystemExit(f"redis-server did not answer:\n{server.log()}")
        time.sleep(0.05)


def default_port(tmp, servers):
    sock = os.path.join(tmp, "port.sock")
    server = Server([BIN, "--bind", "127.0.0.2", "--unixsocket", sock, "--save", ""],
                    cwd=tmp, env=ENV, log=os.path.join(tmp, "port.log"))
    servers.append(server)
    wait_for(lambda: os.path.exists(sock), "redis-server (default port)", server)
    port = connect(sock, server).config()["port"]
    server.stop()
    return port


TYPE_ANSWERS = [
    ("argument couldn't be parsed into an integer", "integer"),
    ("argument must be a memory or percent value", "memory_or_percent"),
    ("argument must be a memory value", "memory"),
    ("argument must be 'yes' or 'no'", "bool"),
    ("argument couldn't be parsed as an octal number", "octal"),
]


def classify(message):
    """(type, enum values or None) from a refusal, or (None, None)."""
    for needle, kind in TYPE_ANSWERS:
        if needle in message:
            return kind, None
    m = re.search(r"must be one of the following: (.*)$", message)
    if m:
        return "enum", [v.strip() for v in m.group(1).split(",")]
    return None, None


def refusal(client, name, value, tmp):
    """The server's complaint about `name value` (None when it takes it), and whether
    the config is immutable."""
    answer = client.call("CONFIG", "SET", name, value)
    if isinstance(answer, Error):
        msg = answer.split(" - ", 1)[-1]
        if "can't set immutable config" in msg or "can't set protected config" in msg:
            return startup_refusal(name, value, tmp), True
        return msg, False
    return None, False


def startup_refusal(name, value, tmp):
    """What redis-server says when started with `--name value` (None: it started)."""
    sock = os.path.join(tmp, "probe.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    log = os.path.join(tmp, "probe.log")
    server = Server([BIN, "--port", "0", "--unixsocket", sock, "--save", "", f"--{name}",
                     value], cwd=tmp, env=ENV, log=log)
    deadline = time.monotonic() + 30
    while server.alive() and not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.01)
    started = server.alive()
    server.stop(signal.SIGKILL)
    if started:
        return None
    text = server.log()
    # *** FATAL CONFIG FILE ERROR *** / Reading the configuration file, at line N /
    # >>> 'name "value"' / <reason>
    m = re.search(r">>> [^\n]*\n([^\n]+)", text)
    return m.group(1).strip() if m else text.strip()


def probe(client, name, value, tmp):
    c = {"default": value}
    msg, immutable = refusal(client, name, NONSENSE, tmp)
    if immutable:
        c["mutable"] = False  # (or protected: only a file or the command line sets it)
    kind, values = classify(msg or "")
    if msg is None:
        kind = "string"
        if not immutable:
            client.call("CONFIG", "SET", name, value)
    if kind is None:
        kind = "special"
    c["type"] = kind
    if values:
        c["values"] = values
    if kind in ("integer", "memory", "memory_or_percent", "octal"):
        lo_hi = number_range(client, name, value, tmp, immutable)
        if lo_hi:
            c["min"], c["max"] = lo_hi
    return c


RANGE = re.compile(r"must be between (-?\d+) and (-?\d+) inclusive")


def number_range(client, name, value, tmp, immutable):
    for candidate in ["-1", "-9223372036854775808", "9223372036854775807",
                      "18446744073709551615"]:
        msg, _ = refusal(client, name, candidate, tmp)
        if msg is None:
            if not immutable:
                client.call("CONFIG", "SET", name, value)
            continue
        m = RANGE.search(msg)
        if m:
            return m.group(1), m.group(2)
    return None


def aliases(client, defaults, configs):
    """Configs that change together; `shown_max` for values shown clamped."""
    for name, c in configs.items():
        # A port opens a listener (on every interface, `bind` being at its default).
        if c.get("mutable", True) is False or name.endswith("port"):
            continue
        new = new_value(c, defaults[name])
        if new is None:
            continue
        if isinstance(client.call("CONFIG", "SET", name, new), Error):
            continue
        after = client.config()
        moved = sorted(n for n in after if n != name and after[n] != defaults[n])
        if moved:
            c["aliases"] = moved
        if c["type"] == "integer" and "max" in c:
            client.call("CONFIG", "SET", name, c["max"])
            shown = client.config()[name]
            if shown != c["max"]:
                c["shown_max"] = shown
        client.call("CONFIG", "SET", name, defaults[name])
        back = client.config()
        if back != defaults:
            changed = sorted(n for n in back if back[n] != defaults[n])
            raise SystemExit(f"putting {name} back left {changed} changed")


# Immutable configs with their own syntax, and a value to start a server with.
IMMUTABLE_PROBES = {"replicaof": "127.0.0.1 1", "slaveof": "127.0.0.1 1"}


def immutable_aliases(tmp, defaults, configs, servers):
    """Aliases of configs only the command line sets: a server started with a new value
    for one, and every other config that shows the change."""
    for name, c in configs.items():
        # (daemonize and supervised would take the server out of our hands.)
        if (c.get("mutable", True) or name.endswith("port")
                or name in ("port", "unixsocket", "dir", "daemonize", "supervised")):
            continue
        new = IMMUTABLE_PROBES.get(name) or new_value(c, defaults[name])
        if new is None:
            continue
        sock = os.path.join(tmp, "alias.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        server = Server([BIN, "--port", "0", "--unixsocket", sock, f"--{name}"] + new.split(),
                        cwd=tmp, env=ENV, log=os.path.join(tmp, "alias.log"))
        servers.append(server)
        deadline = time.monotonic() + 30
        while server.alive() and not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        if server.alive() and os.path.exists(sock):
            after = connect(sock, server).config()
            moved = sorted(n for n in after if n != name and after[n] != defaults[n]
                           and n not in ("port", "unixsocket"))
            if moved:
                c["aliases"] = moved
        server.stop(signal.SIGKILL)


def new_value(c, current):
    kind = c["type"]
    if kind == "bool":
        return "no" if current == "yes" else "yes"
    if kind == "enum":
        others = [v for v in c["values"] if v != current]
        return others[0] if others else None
    if kind in ("integer", "memory") and current.lstrip("-").isdigit():
        lo = int(c.get("min", "0"))
        hi = int(c.get("max", str(2**31 - 1)))
        for candidate in (int(current) + 1, int(current) - 1):
            if lo <= candidate <= hi:
                return str(candidate)
    return None
