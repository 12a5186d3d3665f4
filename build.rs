//! Embeds every engine metadata file in `src/engine/data/` (`<engine>-<series>.toml`), so
//! supporting another engine version is one more generated file, not new code.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("src/engine/data");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, String, String)> = std::fs::read_dir(dir)
        .expect("src/engine/data")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            let (engine, series) = stem.split_once('-')?;
            let abs = std::fs::canonicalize(&p).ok()?;
            Some((engine.to_owned(), series.to_owned(), abs.display().to_string()))
        })
        .collect();
    files.sort();
    let mut out =
        String::from("/// (engine, series, file text) of every embedded metadata file.\n");
    out.push_str("pub const FILES: &[(&str, &str, &str)] = &[\n");
    for (engine, series, path) in &files {
        println!("cargo:rerun-if-changed={path}");
        let _ = writeln!(out, "    ({engine:?}, {series:?}, include_str!({path:?})),");
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("engine_data.rs");
    std::fs::write(target, out).expect("write engine_data.rs");
}
