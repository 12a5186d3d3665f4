//! PostgreSQL settings scoped below the server (`pg_db_role_setting`, written by
//! `ALTER ROLE … SET` and `ALTER DATABASE … SET`) and their snapshot keys:
//! `role.<role>.<setting>`, `database.<db>.<setting>`, `role.<role>@<db>.<setting>`
//! (the role in that database), and `role.<role>` for each role that can log in (not a
//! superuser), the roles a `role.*.<setting>` rule judges. A name holding `.`, `@`, `"`
//! or nothing at all is written in double quotes, `"` doubled, so every key reads back
//! the way it was made. Pure: the collector makes the keys, rollback and rules read them.

/// Where a scoped setting applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Role(String),
    Database(String),
    RoleInDatabase { role: String, database: String },
}

/// A parsed scoped key: where, and which setting (`None` for a `role.<role>` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedKey {
    pub scope: Scope,
    pub setting: Option<String>,
}

/// `app` stays bare; `my.app` becomes `"my.app"`.
pub fn quote(name: &str) -> String {
    if name.is_empty() || name.contains(['.', '@', '"']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_owned()
    }
}

impl Scope {
    /// `role.app`, `database.shop`, `role.app@shop`.
    pub fn prefix(&self) -> String {
        match self {
            Scope::Role(r) => format!("role.{}", quote(r)),
            Scope::Database(d) => format!("database.{}", quote(d)),
            Scope::RoleInDatabase { role, database } => {
                format!("role.{}@{}", quote(role), quote(database))
            }
        }
    }

    /// The key of `setting` in this scope.
    pub fn key(&self, setting: &str) -> String {
        format!("{}.{setting}", self.prefix())
    }

    /// Where the value was set, as `location` shows it: `ALTER ROLE app`.
    pub fn source(&self) -> String {
        match self {
            Scope::Role(r) => format!("ALTER ROLE {}", ident(r)),
            Scope::Database(d) => format!("ALTER DATABASE {}", ident(d)),
            Scope::RoleInDatabase { role, database } => {
                format!("ALTER ROLE {} IN DATABASE {}", ident(role), ident(database))
            }
        }
    }

    /// The statement that sets `setting` to `value` here (`None`: resets it). A list
    /// setting (`search_path`) gets one literal per element, as PostgreSQL stored them.
    pub fn statement(&self, setting: &str, value: Option<&str>) -> String {
        let literal = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let what = match value {
            Some(v) if LIST_SETTINGS.contains(&setting) => {
                let items: Vec<String> = list_items(v).iter().map(|i| literal(i)).collect();
                format!("SET {} = {}", setting_ident(setting), items.join(", "))
            }
            Some(v) => format!("SET {} = {}", setting_ident(setting), literal(v)),
            None => format!("RESET {}", setting_ident(setting)),
        };
        format!("{} {what};", self.source())
    }
}

/// Settings whose value is a list (`GUC_LIST_INPUT` among those a role or database may
/// set): `pg_db_role_setting` keeps them as `"$user", public`.
const LIST_SETTINGS: &[&str] =
    &["search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"];

/// `"$user", public` → `$user`, `public`: split at commas outside double quotes, each
/// element trimmed and unquoted (`""` inside quotes is one `"`).
fn list_items(value: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                items.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => items.push(String::new()),
            c if c.is_whitespace() && !quoted => {}
            c => items.last_mut().unwrap().push(c),
        }
    }
    items
}

/// A PostgreSQL identifier: bare when it is lowercase letters, digits and `_`, else
/// double-quoted.
pub fn ident(name: &str) -> String {
    let bare = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare { name.to_owned() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// A setting name: each `.`-separated part an identifier (`pgaudit.log`).
fn setting_ident(name: &str) -> String {
    name.split('.').map(ident).collect::<Vec<_>>().join(".")
}

/// Reads one name at the start of `s` (quoted or bare, ending at `.`, `@` or the end):
/// the name and the rest.
fn name(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if rest[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some((out, &rest[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        return None;
    }
    let end = s.find(['.', '@']).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_owned(), &s[end..]))
}

/// The scope and setting of a `role.…` or `database.…` key; `None` for any other key.
pub fn parse(key: &str) -> Option<ScopedKey> {
    let (scope, rest) = if let Some(rest) = key.strip_prefix("role.") {
        let (role, rest) = name(rest)?;
        match rest.strip_prefix('@') {
            Some(rest) => {
                let (database, rest) = name(rest)?;
                (Scope::RoleInDatabase { role, database }, rest)
            }
            None => (Scope::Role(role), rest),
        }
    } else if let Some(rest) = key.strip_prefix("database.") {
        let (database, rest) = name(rest)?;
        (Scope::Database(database), rest)
    } else {
        return None;
    };
    match rest.strip_prefix('.') {
        Some(setting) if !setting.is_empty() => {
            Some(ScopedKey { scope, setting: Some(setting.to_owned()) })
        }
        None if rest.is_empty() && matches!(scope, Scope::Role(_)) => {
            Some(ScopedKey { scope, setting: None })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(scope: Scope, setting: &str, key: &str, source: &str) {
        assert_eq!(scope.key(setting), key);
        assert_eq!(
            parse(key),
            Some(ScopedKey { scope: scope.clone(), setting: Some(setting.into()) })
        );
        assert_eq!(scope.source(), source);
    }

    #[test]
    fn keys_read_back() {
        let role = |r: &str| Scope::Role(r.into());
        check(role("app"), "statement_timeout", "role.app.statement_timeout", "ALTER ROLE app");
        check(
            role("my.app"),
            "pgaudit.log",
            "role.\"my.app\".pgaudit.log",
            "ALTER ROLE \"my.app\"",
        );
        check(role("a\"b@c"), "x", "role.\"a\"\"b@c\".x", "ALTER ROLE \"a\"\"b@c\"");
        check(
            Scope::Database("shop".into()),
            "work_mem",
            "database.shop.work_mem",
            "ALTER DATABASE shop",
        );
        check(
            Scope::RoleInDatabase { role: "App".into(), database: "shop".into() },
            "statement_timeout",
            "role.App@shop.statement_timeout",
            "ALTER ROLE \"App\" IN DATABASE shop",
        );
        assert_eq!(parse("role.app"), Some(ScopedKey { scope: role("app"), setting: None }));
        for bad in
            ["role.", "role..x", "database.shop", "role.\"open.x", "setting.role", "role.a@b"]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn statements_quote_names_and_values() {
        let s = Scope::RoleInDatabase { role: "app".into(), database: "my db".into() };
        assert_eq!(
            s.statement("statement_timeout", Some("30s")),
            "ALTER ROLE app IN DATABASE \"my db\" SET statement_timeout = '30s';"
        );
        assert_eq!(
            Scope::Role("app".into()).statement("application_name", Some("it's")),
            "ALTER ROLE app SET application_name = 'it''s';"
        );
        assert_eq!(
            Scope::Role("app".into())
                .statement("search_path", Some("\"$user\", public, \"a,\"\"b\"")),
            "ALTER ROLE app SET search_path = '$user', 'public', 'a,\"b';"
        );
        assert_eq!(
            Scope::Database("shop".into()).statement("work_mem", None),
            "ALTER DATABASE shop RESET work_mem;"
        );
    }
}
