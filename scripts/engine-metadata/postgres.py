"""PostgreSQL: `pg_settings` of a throwaway server started on an empty configuration
file, the enum aliases the engine accepts, and the time zone names it knows.

- A fresh cluster (`initdb`, as user postgres, in a temporary folder) is started with
  `-c config_file=<empty file>`, listening only on a Unix socket in that folder. Every
  row of `pg_settings` gives vartype, unit, min/max, enumvals, context and boot value;
  `setting` is the value a server started on an empty file uses (`default`), except
  where `source` says it came from elsewhere: the command line (our own options: then
  the default is the boot value), the connection (`client`), or start-up overrides
  (`override`: paths derived from the data directory). Those are marked `varies`.
- Enum aliases: enum values the engine accepts without listing them in `enumvals`.
  Each enum setting is asked about every candidate with `postgres -C <name> -c
  <name>=<candidate>` (reads the configuration and prints the value it would use,
  without starting): a candidate it accepts and prints as a listed value is an alias.
  Candidates: the boolean spellings, and the hidden entries of guc_tables.c
  (`debug`, `archive`, `hot_standby`); the engine decides which enum takes which.
- `file`: what the engine says about a file holding nothing but `name = '<its own
  value>'`, for the settings it refuses there (fixed at build or initdb time).
- Time zones: `pg_timezone_names` (TimeZone and log_timezone accept these names,
  case-insensitively, besides POSIX-style specifications).
"""

import os

from common import Server, free_port, remove, run, temp_dir, wait_for

BIN = "/usr/lib/postgresql/15/bin"
USER = "postgres"
# Candidates for enum values the engine accepts without listing them (see the module doc).
BOOLEAN_WORDS = ["on", "off", "true", "false", "yes", "no", "1", "0"]
HIDDEN_CANDIDATES = ["debug", "archive", "hot_standby"]
# Defaults each connection takes from its database (client_encoding follows the
# database's encoding): not a property of the server's configuration.
SESSION_DEFAULTS = {"client_encoding"}
# Fixed environment: the server takes lc_* from it when the file does not set them.
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}


def generate(out_path):
    tmp = temp_dir(owner=USER)
    server = None
    try:
        data = os.path.join(tmp, "data")
        run(
            [f"{BIN}/initdb", "-D", data, "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8",
             "--locale=C"],
            user=USER,
            env=ENV,
        )
        empty = os.path.join(tmp, "empty.conf")
        with open(empty, "w"):
            pass
        port = free_port()
        server = Server(
            [f"{BIN}/postgres", "-D", data, "-c", f"config_file={empty}", "-p", str(port),
             "-c", "listen_addresses=", "-k", tmp],
            user=USER,
            env=ENV,
            log=os.path.join(tmp, "server.log"),
        )

        def sql(query):
            code, out, _ = run(
                ["psql", "-X", "-h", tmp, "-p", str(port), "-U", USER, "-d", "postgres", "-At",
                 "-F", "\x1f", "-R", "\x1e", "-c", query],
                env=ENV,
                check=False,
            )
            return code, out

        wait_for(lambda: sql("select 1")[0] == 0, "postgres", server)
        code, out = sql(
            "select name, vartype, coalesce(unit, ''), coalesce(min_val, ''), "
            "coalesce(max_val, ''), coalesce(array_to_string(enumvals, chr(2)), ''), "
            "context, coalesce(boot_val, ''), coalesce(setting, ''), source, "
            "coalesce(array_to_string(pg_settings_get_flags(name), ','), '') "
            "from pg_settings order by name"
        )
        if code != 0:
            raise SystemExit("reading pg_settings failed")
        settings = {}
        for row in out.split("\x1e"):
            if not row:
                continue
            (name, vartype, unit, lo, hi, enums, context, boot, setting, source,
             flags) = row.split("\x1f")
            s = {"vartype": vartype, "context": context, "boot": boot}
            if unit:
                s["unit"] = unit
            if vartype in ("integer", "real"):
                s["min"], s["max"] = lo, hi
            if vartype == "enum":
                s["values"] = enums.split("\x02")
            if "RUNTIME_COMPUTED" in flags.split(","):
                s["computed"] = True
            if name in SESSION_DEFAULTS:
                s["varies"] = "session"
            elif context == "internal":
                # Fixed by the build or initdb (a file can neither set nor show them);
                # computed ones follow the rest of the configuration.
                if "computed" not in s:
                    s["default"] = setting
            elif source == "default":
                s["default"] = setting
            elif source == "command line":
                s["default"] = boot  # our own -p, -k, listen_addresses
            elif source == "client":
                s["varies"] = "session"
            else:
                s["varies"] = "start-up"
            settings[name] = s
        _, version = sql("show server_version")
        _, zones = sql("select name from pg_timezone_names order by name")
        for name, s in settings.items():
            if s["vartype"] == "enum":
                aliases = enum_aliases(data, empty, name, s["values"])
                if aliases:
                    s["aliases"] = aliases
            if "varies" not in s:
                refusal = refused_in_file(tmp, data, name, s.get("default", s["boot"]))
                if refusal:
                    s["file"] = refusal
        return {
            "version": version.strip("\x1e\n").split(" ")[0],
            "full_version": version.strip("\x1e\n"),
            "settings": settings,
            "time_zones": [z for z in zones.split("\x1e") if z],
        }
    finally:
        if server is not None:
            server.stop()
        remove(tmp)


def refused_in_file(tmp, data, name, value):
    """The engine's complaint about a file holding just `name = '<its own value>'`
    (settings fixed at build or initdb time, or not allowed in a file), or None."""
    path = os.path.join(tmp, "probe.conf")
    with open(path, "w") as f:
        f.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")
    code, _, err = run([f"{BIN}/postgres", "-D", data, "-c", f"config_file={path}", "-C", name],
                       user=USER, env=ENV, check=False)
    if code == 0:
        return None
    for line in err.splitlines():
        if "FATAL:" in line or "LOG:" in line:
            return line.split(":  ", 1)[-1].strip()
    return err.strip()


def enum_aliases(data, conf, name, listed):
    """Written value → the value the engine shows, for the candidates it accepts for
    enum `name` that it shows otherwise (aliases, and listed values shown as another)."""
    aliases = {}
    for cand in listed + [c for c in BOOLEAN_WORDS + HIDDEN_CANDIDATES
                          if c.lower() not in {v.lower() for v in listed}]:
        code, out, _ = run(
            [f"{BIN}/postgres", "-D", data, "-c", f"config_file={conf}", "-C", name, "-c",
             f"{name}={cand}"],
            user=USER,
            env=ENV,
            check=False,
        )
        if code == 0 and out.strip() != cand:
            aliases[cand] = out.strip()
    return aliases
