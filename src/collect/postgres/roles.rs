//! Per-role and per-database settings (`pg_db_role_setting`, readable by every role)
//! and the roles that can log in, as `role.…` / `database.…` config entries; keys in
//! [`crate::scoped`].

use std::collections::BTreeMap;

use super::{CollectError, Session, fetch_all, text};
use crate::scoped::Scope;
use crate::snapshot::Entry;

/// Adds `role.<role>.<setting>`, `database.<db>.<setting>`, `role.<role>@<db>.<setting>`
/// (value as written by `ALTER … SET`, `source` saying which statement; `unit`,
/// `vartype` and `context` from the server-wide setting of that name when the value is
/// a plain number in its unit) and `role.<role>` = `login` for every role that can log
/// in and is not a superuser.
pub(super) async fn read(
    conn: &mut Session<'_>,
    config: &mut BTreeMap<String, Entry>,
) -> Result<(), CollectError> {
    let rows = fetch_all(
        conn,
        "reading pg_db_role_setting",
        "SELECT r.rolname::text, d.datname::text, c.cfg
         FROM pg_db_role_setting s
         LEFT JOIN pg_roles r ON r.oid = s.setrole
         LEFT JOIN pg_database d ON d.oid = s.setdatabase
         CROSS JOIN LATERAL unnest(s.setconfig) AS c(cfg)
         WHERE (s.setrole = 0 OR r.oid IS NOT NULL) AND (s.setdatabase = 0 OR d.oid IS NOT NULL)
         ORDER BY 1, 2, 3",
    )
    .await?;
    let mut scoped = Vec::with_capacity(rows.len());
    for row in &rows {
        let scope = match (text(row, 0)?, text(row, 1)?) {
            (Some(role), Some(database)) => Scope::RoleInDatabase { role, database },
            (Some(role), None) => Scope::Role(role),
            (None, Some(database)) => Scope::Database(database),
            (None, None) => continue,
        };
        let Some((name, value)) = text(row, 2)?.and_then(|c| {
            let (n, v) = c.split_once('=')?;
            Some((n.to_owned(), v.to_owned()))
        }) else {
            continue;
        };
        scoped.push((scope, name, value));
    }
    for (scope, name, value) in scoped {
        let server = config.get(&format!("setting.{name}"));
        let plain_number = value.parse::<f64>().is_ok() && !value.contains(char::is_alphabetic);
        let entry = Entry {
            unit: server.filter(|_| plain_number).and_then(|e| e.unit.clone()),
            vartype: server.and_then(|e| e.vartype.clone()),
            context: server.and_then(|e| e.context.clone()),
            source: Some(scope.source()),
            ..Entry::new(value)
        };
        config.insert(scope.key(&name), entry);
    }

    let logins = fetch_all(
        conn,
        "reading pg_roles",
        "SELECT rolname::text FROM pg_roles
         WHERE rolcanlogin AND NOT rolsuper AND rolname !~ '^pg_'
         ORDER BY 1",
    )
    .await?;
    for row in &logins {
        if let Some(role) = text(row, 0)? {
            let entry = Entry { source: Some("pg_roles".into()), ..Entry::new("login") };
            config.insert(Scope::Role(role).prefix(), entry);
        }
    }
    Ok(())
}
