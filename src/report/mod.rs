//! HTML reports: tera templates from `report-templates/` (embedded in the binary),
//! rendered from plain data. Pure: no store, no clock, no I/O.
