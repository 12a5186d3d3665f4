//! `pending.<name>` for PostgreSQL: reads `pg_file_settings` when the account may (and
//! `server.pending_source` either way); the decisions are in [`crate::collect::pending`].

use std::collections::BTreeMap;

use super::{CollectError, Session, fetch_all, fetch_one, text};
use crate::snapshot::Entry;

/// `pending.<name>` entries from `pg_file_settings` when this account may read it, and
/// `server.pending_source` saying how much it could see.
pub(super) async fn read(
    conn: &mut Session<'_>,
    config: &mut BTreeMap<String, Entry>,
    boot: &BTreeMap<String, String>,
) -> Result<(), CollectError> {
    let row = fetch_one(
        conn,
        "checking access to pg_file_settings",
        "SELECT current_user::text,
                (has_table_privilege('pg_catalog.pg_file_settings', 'SELECT')
                 AND has_function_privilege('pg_catalog.pg_show_all_file_settings()',
                                            'EXECUTE'))::text",
    )
    .await?;
    if text(&row, 1)?.as_deref() != Some("true") {
        let user = text(&row, 0)?.unwrap_or_default();
        let note = crate::collect::pending::pg_limited_note(&user);
        let entry = crate::collect::pending::source_entry("pending_restart_flag", Some(note));
        config.insert(crate::collect::pending::SOURCE_KEY.into(), entry);
        return Ok(());
    }
    let rows = fetch_all(
        conn,
        "reading pg_file_settings",
        "SELECT name::text, setting::text, sourcefile::text, sourceline::text
         FROM pg_file_settings
         WHERE name IS NOT NULL
         ORDER BY seqno",
    )
    .await?;
    let mut file_rows = Vec::with_capacity(rows.len());
    for row in &rows {
        file_rows.push(crate::collect::pending::FileRow {
            name: text(row, 0)?.unwrap_or_default(),
            value: text(row, 1)?.unwrap_or_default(),
            file: text(row, 2)?,
            line: text(row, 3)?.and_then(|l| l.parse().ok()),
        });
    }
    let pending = crate::collect::pending::postgres(config, &file_rows, boot);
    config.extend(pending);
    let entry = crate::collect::pending::source_entry("pg_file_settings", None);
    config.insert(crate::collect::pending::SOURCE_KEY.into(), entry);
    Ok(())
}
