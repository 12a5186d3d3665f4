"""MariaDB: the options `mariadbd` takes and the system variables of a throwaway server
started from an option file holding nothing but `[mysqld]`.

- Options: `mariadbd --no-defaults --verbose --help`, every `--name` entry and whether
  it takes no argument (`--flag`), an optional one (`--name[=…]`) or a required one
  (`--name=#` numbers, `--name=name` text). A my.cnf line is one of these options, so
  this is the list unique prefixes (`max_connect_e`) are matched against; options that
  are not variables (`log-bin`, `skip-grant-tables`, `ansi`, …) are marked
  `variable = false`.
- Variables: `information_schema.SYSTEM_VARIABLES` (type, range, block size, enum and
  set values, read-only, how it is given on the command line, `Alias for …` in the
  comment) and `SHOW GLOBAL VARIABLES` (the value, as the collector reads it) of a
  server started with `--defaults-file=<[mysqld] only>` on a fresh data directory
  (`mariadb-install-db`), listening only on a Unix socket in a temporary folder. `default` is that value.
  `auto` marks values the server sizes at start-up from other settings (origin
  `AUTO`). `varies` marks values that depend on how or where the server was started
  (our own command-line options, paths under its data directory, the host name, the
  host's CPUs, file-descriptor limit or file system) and are not written down.
"""

import os
import re
import socket

from common import Server, remove, run, temp_dir, wait_for

USER = "mysql"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
# AUTO-sized variables that follow the host, not other settings (their comments say so):
# the file-descriptor limit, the number of CPUs, the data directory's file system.
# Set to 0 by our --skip-networking: its default is the one the help prints.
HARNESS_DERIVED = {"port"}
HOST_SIZED = {"open_files_limit", "thread_pool_size", "table_open_cache_instances",
              "lower_case_file_system"}


def generate(_out_dir):
    tmp = temp_dir(owner=USER)
    server = None
    try:
        options, help_values = help_options()
        groups = options.pop("__groups__")
        data = os.path.join(tmp, "data")
        run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", f"--user={USER}",
             "--auth-root-authentication-method=normal", "--skip-test-db"], env=ENV)
        conf = os.path.join(tmp, "my.cnf")
        with open(conf, "w") as f:
            f.write("[mysqld]\n")
        sock = os.path.join(tmp, "mysqld.sock")
        # No TCP at all (a Unix socket in our folder), so `port` and `bind_address` keep
        # their defaults.
        harness = {
            "datadir": data, "socket": sock, "skip_networking": "1",
            "pid_file": os.path.join(tmp, "mysqld.pid"),
            "log_error": os.path.join(tmp, "error.log"),
        }
        server = Server(
            ["/usr/sbin/mariadbd", f"--defaults-file={conf}", f"--user={USER}"]
            + [f"--{k.replace('_', '-')}={v}" for k, v in harness.items()],
            env=ENV,
            log=os.path.join(tmp, "stdout.log"),
        )

        def sql(query):
            code, out, err = run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-B",
                                  "-e", query], env=ENV, check=False)
            return code, out

        wait_for(lambda: sql("select 1")[0] == 0, "mariadbd", server)
        _, version = sql("select version()")
        _, shown = sql("show global variables")
        values = dict(split_row(line, 2) for line in shown.splitlines())
        _, rows = sql(
            "select lower(VARIABLE_NAME), VARIABLE_TYPE, ifnull(NUMERIC_MIN_VALUE, ''), "
            "ifnull(NUMERIC_MAX_VALUE, ''), ifnull(NUMERIC_BLOCK_SIZE, ''), "
            "ifnull(ENUM_VALUE_LIST, ''), READ_ONLY, ifnull(COMMAND_LINE_ARGUMENT, ''), "
            "GLOBAL_VALUE_ORIGIN, VARIABLE_SCOPE, "
            "VARIABLE_COMMENT from information_schema.SYSTEM_VARIABLES"
        )
        host = socket.gethostname()
        on_host = re.compile(r"(^|/)" + re.escape(host) + r"([.-]|$)") if host else None
        variables = {}
        for line in rows.splitlines():
            (name, vtype, lo, hi, block, enums, read_only, cmdline, origin, scope,
             comment) = split_row(line, 11)
            v = {"type": vtype.lower()}
            if lo:
                v["min"], v["max"] = lo, hi
            if block and block != "1":
                v["block"] = block
            if enums:
                v["values"] = enums.split(",")
            if read_only == "YES":
                v["read_only"] = True
            # NULL: the variable has no option of its own (a file cannot set it by this name).
            v["argument"] = cmdline.lower() if cmdline else None
            if scope == "SESSION ONLY":
                v["scope"] = "session"
            if comment.startswith("Alias for "):
                v["alias_of"] = comment[len("Alias for "):].split(".")[0].strip().lower()
            value = values.get(name)
            if value is None:
                pass  # session-only: no global value
            if name in harness or name in HARNESS_DERIVED:
                # Our own command line: the compiled-in default is what the help prints.
                value = help_values.get(name)
                if value is not None and vtype == "BOOLEAN":
                    value = {"TRUE": "ON", "FALSE": "OFF"}.get(value, value)
            if value is None:
                if name in harness:
                    v["varies"] = "start-up"
            elif name in HOST_SIZED or (on_host and on_host.search(value)):
                v["varies"] = "host"
            elif tmp in value:
                v["varies"] = "start-up"
            else:
                v["default"] = value
                if origin == "AUTO":
                    v["auto"] = True
            variables[name] = v
        for name, opt in options.items():
            opt["variable"] = name.lower().replace("-", "_") in variables
        _, rows = sql("select COLLATION_NAME, CHARACTER_SET_NAME, IS_DEFAULT "
                      "from information_schema.COLLATIONS")
        charsets, collations = {}, {}
        for line in rows.splitlines():
            collation, charset, is_default = split_row(line, 3)
            collations[collation] = charset
            if is_default == "Yes":
                charsets[charset] = collation
        probe_options(options, variables, help_values)
        return {"version": version.strip(), "variables": variables, "options": options,
                "groups": groups,
                "charsets": charsets, "collations": collations}
    finally:
        if server is not None:
            server.stop()
        remove(tmp)


def help_table(args):
    """The help's table of values after reading `args` (option name → value), or the
    error the server printed instead."""
    code, out, err = run(["/usr/sbin/mariadbd", "--no-defaults"] + args + ["--verbose", "--help"],
                         env=ENV, check=False)
    values, in_table = {}, False
    for line in out.splitlines():
        if line.startswith("-------"):
            in_table = True
            continue
        if in_table and line.strip():
            name, _, value = line.partition(" ")
            values[name] = value.strip()
    if not values:
        errors = [l.split("] ", 1)[-1] for l in err.splitlines() if "[ERROR]" in l]
        return None, errors[0] if errors else err.strip()
    return values, None


def probe_options(options, variables, help_values):
    """What the help's table shows after each option: for options that are not variables,
    the values they set (`sets`), or that they take no value (`flag`); for set-typed
    variables, the values each member expands to (`expands`: `traditional` sets several
    sql_mode flags)."""
    base, _ = help_table([])
    for name in probe_early(options, base):
        options[name]["early"] = True
    for name, o in sorted(options.items()):
        if o["variable"] and variables[name.lower().replace("-", "_")]["type"] != "set":
            continue
        if o["argument"] == "none":
            _, error = help_table([f"--{name}=1"])
            if error and "cannot take an argument" in error:
                o["flag"] = True
            candidates = [None]
        elif o["variable"]:
            continue
        else:
            candidates = ["7", "x"] if o.get("value") == "number" else ["x", "7"]
        for value in candidates:
            arg = f"--{name}" if value is None else f"--{name}={value}"
            after, error = help_table([arg])
            if after is None:
                continue
            changed = {k: v for k, v in after.items()
                       if base.get(k) != v and k != name and k != "version"}
            if changed:
                o["probe"] = "" if value is None else value
                o["sets"] = changed
            break
    for vname, v in variables.items():
        if v["type"] != "set" or "values" not in v:
            continue
        option = vname.replace("_", "-")
        expands = {}
        for member in v["values"]:
            after, _ = help_table([f"--{option}={member}"])
            if after is None or option not in after:
                continue
            if after[option] != member:
                expands[member] = after[option]
        if expands:
            v["expands"] = expands


def probe_early(options, base):
    """Options the server reads in its early pass, before the others: there a prefix
    is matched against the early options only, so `max_c` is `max_connections` even
    though it is a prefix of other options too. Each option is given as its longest
    prefix that several options share (`--max_connectio` → `--max_connection=1`);
    when the server takes it for that option, the option is early."""
    from concurrent.futures import ThreadPoolExecutor

    names = sorted(options)

    def shared_prefix(name):
        for k in range(len(name) - 1, 0, -1):
            p = name[:k]
            if sum(1 for n in names if n.replace("_", "-").startswith(p)) > 1:
                return p
        return None

    def probe(name):
        p = shared_prefix(name)
        if p is None:
            return None
        after, error = help_table([f"--{p}=1"])
        if error:
            return name if f"'{name.replace('-', '_')}'" in error or f"'--{name}'" in error else None
        if after.get(name) != base.get(name):
            return name
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {n for n in pool.map(probe, names) if n}


def help_options():
    """`--name` → {argument: none|optional|required, value: number|text}, and the table
    of values after reading options (variable name → value), from the help."""
    _, out, _ = run(["/usr/sbin/mariadbd", "--no-defaults", "--verbose", "--help"], env=ENV,
                    check=False)
    options = {}
    for line in out.splitlines():
        if not line.startswith("  -"):
            continue
        words = line.split()
        spec = next((w for w in words if w.startswith("--")), None)
        if spec is None:
            continue
        spec = spec.rstrip(",")
        name, arg = spec[2:], "none"
        placeholder = None
        if "[=" in name:
            name, rest = name.split("[=", 1)
            arg, placeholder = "optional", rest.rstrip("]")
        elif "=" in name:
            name, placeholder = name.split("=", 1)
            arg = "required"
        o = {"argument": arg}
        if placeholder is not None:
            o["value"] = "number" if placeholder == "#" else "text"
        options[name] = o
    if len(options) < 100:
        raise SystemExit(f"mariadbd --verbose --help listed only {len(options)} options")
    groups = next(l for l in out.splitlines() if l.startswith("The following groups are read:"))
    options["__groups__"] = groups.split(":", 1)[1].split()
    values, in_table = {}, False
    for line in out.splitlines():
        if line.startswith("-------"):
            in_table = True
            continue
        if in_table and line.strip():
            name, _, value = line.partition(" ")
            value = value.strip()
            values[name.replace("-", "_")] = "" if value == "(No default value)" else value
    return options, values


def split_row(line, n):
    """A batch-mode row: tab-separated, `\\t \\n \\0 \\\\` escaped."""
    fields = line.split("\t")
    if len(fields) != n:
        raise SystemExit(f"expected {n} columns, got {len(fields)}: {line!r}")
    return [unescape(f) for f in fields]


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"t": "\t", "n": "\n", "0": "\0", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
