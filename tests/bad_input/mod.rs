//! Bad input never panics and never writes. Every malformed config and policy under
//! `tests/fixtures/bad/` (expectations in `expect.tsv`), plus generated ones too big or
//! too odd to commit (20 MB, binary garbage, empty, 100,000-deep nesting), makes
//! `driftwatch audit` exit 2 with `file:line:col: message` on stderr, never 101 (a
//! panic), and leaves no store behind.

mod parsers;

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

/// Where the first diagnostic must point, and what the diagnostics must say.
struct Expect {
    line_col: String,
    fragment: String,
}

/// A scratch folder holding a config (and maybe policies) for one case.
struct Case {
    name: String,
    dir: tempfile::TempDir,
    /// The file the first diagnostic must name.
    blamed: PathBuf,
}

impl Case {
    fn config(name: &str, bytes: &[u8]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("driftwatch.toml");
        std::fs::write(&config, bytes).unwrap();
        Case { name: name.to_owned(), dir, blamed: config }
    }

    fn policy(name: &str, bytes: &[u8]) -> Case {
        let good = std::fs::read(fixtures().join("good-config.toml")).unwrap();
        let case = Case::config(name, &good);
        let folder = case.dir.path().join("policies/postgres");
        std::fs::create_dir_all(&folder).unwrap();
        let file = Path::new(name).file_name().map_or("bad.toml".into(), |f| f.to_owned());
        let blamed = folder.join(file);
        std::fs::write(&blamed, bytes).unwrap();
        Case { blamed, ..case }
    }

    #[track_caller]
    fn check(&self, expect: &Expect) {
        let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
            .args(["audit", "--config"])
            .arg(self.dir.path().join("driftwatch.toml"))
            .current_dir(self.dir.path())
            .output()
            .expect("run driftwatch");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = &self.name;
        assert_ne!(out.status.code(), Some(101), "{name}: driftwatch panicked:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{name}: a panic was printed:\n{stderr}");
        assert_eq!(out.status.code(), Some(2), "{name}: exit 2 expected:\n{stderr}");
        assert!(out.stdout.is_empty(), "{name}: printed a result");
        let first = stderr.lines().next().unwrap_or_default();
        // `5:8` is a whole place (`5:8: …`); `1:` pins the line only.
        let sep = if expect.line_col.ends_with(':') { "" } else { ":" };
        let place = format!("{}:{}{sep}", self.blamed.display(), expect.line_col);
        assert!(
            first.starts_with(&place) && stderr.contains(&expect.fragment),
            "{name}: expected `{place}…{}…`, got:\n{stderr}",
            expect.fragment
        );
        for written in ["store", "driftwatch-data"] {
            assert!(!self.dir.path().join(written).exists(), "{name}: `{written}` was created");
        }
    }
}

fn expectations() -> Vec<(String, Expect)> {
    let text = std::fs::read_to_string(fixtures().join("expect.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (file, line_col, fragment) =
                (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            (file.to_owned(), Expect { line_col: line_col.into(), fragment: fragment.into() })
        })
        .collect()
}

#[test]
fn every_fixture_exits_2_with_its_place_and_writes_nothing() {
    let expected = expectations();
    let mut on_disk: Vec<String> = ["config", "policy"]
        .iter()
        .flat_map(|kind| {
            std::fs::read_dir(fixtures().join(kind))
                .unwrap()
                .map(move |e| format!("{kind}/{}", e.unwrap().file_name().to_string_lossy()))
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<&String> = expected.iter().map(|(f, _)| f).collect();
    listed.sort();
    assert_eq!(on_disk.iter().collect::<Vec<_>>(), listed, "expect.tsv lists every fixture");
    assert!(expected.len() >= 30, "at least 30 bad inputs, have {}", expected.len());
    for (file, expect) in &expected {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        let case = if file.starts_with("policy/") {
            Case::policy(file, &bytes)
        } else {
            Case::config(file, &bytes)
        };
        case.check(expect);
    }
}

fn expect(line_col: &str, fragment: &str) -> Expect {
    Expect { line_col: line_col.to_owned(), fragment: fragment.to_owned() }
}

/// A seeded byte soup: not UTF-8, NULs and all.
fn garbage(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn generated_bad_inputs_exit_2_and_write_nothing() {
    let deep_arrays = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_tables = format!("x = {}1{}\n", "{a = ".repeat(50_000), "}".repeat(50_000));
    let deep_header = format!("[{}]\n", vec!["a"; 20_000].join("."));
    // 20 MB of comments, then the mistake on the last line.
    let mut huge = format!("# {}\n", "y".repeat(998)).repeat(20_000);
    huge.push_str("[store\n");
    let recursion = "invalid TOML: ";
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", Vec::new(), expect("1:1", "no [[targets]]")),
        ("garbage", garbage(4096), expect("1:1", "valid UTF-8")),
        ("nul bytes", b"[store]\nurl = \"a\0b\"\n".to_vec(), expect("2:", "invalid TOML")),
        ("deep arrays", deep_arrays.clone().into_bytes(), expect("1:", recursion)),
        ("deep inline tables", deep_tables.clone().into_bytes(), expect("1:", recursion)),
        ("deep table header", deep_header.clone().into_bytes(), expect("1:1", recursion)),
        ("20 MB", huge.into_bytes(), expect("20001:7", "unclosed table")),
    ];
    for (name, bytes, expect) in cases {
        Case::config(&format!("config: {name}"), &bytes).check(&expect);
    }
    for (name, text) in [
        ("deep-arrays", deep_arrays),
        ("deep-inline-tables", deep_tables),
        ("deep-header", deep_header),
    ] {
        let case = Case::policy(&format!("policy/{name}.toml"), text.as_bytes());
        case.check(&expect("1:", recursion));
    }
    Case::policy("policy/garbage.toml", &garbage(4096)).check(&expect("1:1", "UTF-8"));
}

/// `diff` between two targets reads the policies' expected differences: a broken
/// policy file is exit 2 with its place, never a diff that silently expects nothing.
#[test]
fn diff_between_targets_reports_a_broken_policy_file() {
    let bad = std::fs::read(fixtures().join("policy/bad-severity.toml")).unwrap();
    let case = Case::policy("policy/bad-severity.toml", &bad);
    let config = case.dir.path().join("driftwatch.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[targets]]\nname = \"pg2\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:5432/postgres\"\nrole = \"replica\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["diff", "pg", "pg2", "--config"])
        .arg(&config)
        .current_dir(case.dir.path())
        .output()
        .expect("run driftwatch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit 2 expected:\n{stderr}");
    let place = format!("{}:", case.blamed.display());
    assert!(stderr.lines().next().unwrap_or_default().starts_with(&place), "{stderr}");
    assert!(stderr.contains("error: invalid policies"), "{stderr}");
    assert!(out.stdout.is_empty(), "printed a diff:\n{}", String::from_utf8_lossy(&out.stdout));
}
