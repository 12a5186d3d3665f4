//! `pending.<name>` for MySQL 8 from `performance_schema.persisted_variables`;
//! MariaDB has none (`server.pending_source` = `not_applicable`).

use std::collections::BTreeMap;

use super::{CollectError, Flavor, Session, text, try_fetch_all};
use crate::snapshot::Entry;

/// MySQL 8's persisted variables that differ from the live values (`pending.<name>`).
pub(super) async fn read(
    session: &mut Session<'_>,
    config: &mut BTreeMap<String, Entry>,
) -> Result<(), CollectError> {
    use crate::collect::pending::{SOURCE_KEY, mysql, source_entry};
    if session.flavor == Flavor::MariaDb {
        let why = "MariaDB has no persisted variables (SET PERSIST)".to_owned();
        config.insert(SOURCE_KEY.into(), source_entry("not_applicable", Some(why)));
        return Ok(());
    }
    let what = "reading performance_schema.persisted_variables";
    let sql = "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM performance_schema.persisted_variables";
    let entry = match try_fetch_all(session, what, sql).await? {
        Ok(rows) => {
            let pairs: Vec<(String, String)> = rows
                .iter()
                .map(|r| (text(r, 0).unwrap_or_default(), text(r, 1).unwrap_or_default()))
                .collect();
            let found = mysql(config, &pairs);
            config.extend(found);
            source_entry("persisted_variables", None)
        }
        Err(e) => {
            let why = format!(
                "{what}: {e}: GRANT SELECT ON performance_schema.persisted_variables to the auditor"
            );
            source_entry("unavailable", Some(crate::redact::text(&why).into_owned()))
        }
    };
    config.insert(SOURCE_KEY.into(), entry);
    Ok(())
}
