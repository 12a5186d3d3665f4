//! `driftwatch verify` over a real history written by real audits: a signed chain
//! verifies with its public key and not with another, a store changed behind the
//! chain's back is named, and `gc`'s removals are recorded, not breaks.

use std::process::Command;

use crate::audit::harness::{Workspace, require_port};
use crate::support::MEMCACHED;

/// A workspace auditing memcached (fast, no lock needed: it only reads), signing its
/// chain with a fresh key made by openssl; returns it and the public key's path.
fn signed_workspace() -> (Workspace, std::path::PathBuf) {
    require_port(MEMCACHED, "memcached");
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [integrity]\nsigning_key_file = \"key.pem\"\n\n\
         [[targets]]\nname = \"cache\"\nkind = \"memcached\"\n\
         url = \"memcached://127.0.0.1:{MEMCACHED}\"\nrole = \"standalone\"\n",
        crate::audit::harness::policies_dir().display()
    ));
    let dir = ws.dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "key.pem"]);
    openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"]);
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "other.pem"]);
    openssl(&["pkey", "-in", "other.pem", "-pubout", "-out", "other-public.pem"]);
    let public = dir.join("public.pem");
    (ws, public)
}

fn verify(ws: &Workspace, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify"];
    args.extend_from_slice(extra);
    let out = ws.driftwatch(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_signed_history_verifies_with_its_key_only_and_names_what_was_changed() {
    let (ws, public) = signed_workspace();
    for _ in 0..3 {
        ws.audit_json();
    }
    let public = public.to_str().unwrap();
    let (code, out) = verify(&ws, &["--public-key", public]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checked 3 links, 3 runs") && out.contains("whole"), "{out}");

    let other = ws.dir.path().join("other-public.pem");
    let (code, out) = verify(&ws, &["--public-key", other.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN: first break: chain/000000000000.json: is signed by key"),
        "{out}"
    );

    // A manifest edited in place: named, exit 1; JSON says the same.
    let manifest = ws
        .store_files()
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.starts_with(ws.store().join("runs")))
        .expect("a manifest");
    let original = std::fs::read(&manifest).unwrap();
    let json = driftwatch::store::manifest::expand(&original).unwrap();
    // Stored compressed; the edit writes it back as plain JSON, which reads as well.
    let edited = String::from_utf8(json.to_vec()).unwrap().replace("\"manual\"", "\"schedule\"");
    std::fs::write(&manifest, edited).unwrap();
    let out = ws.driftwatch(&["verify", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["whole"], false);
    let object = json["breaks"][0]["object"].as_str().unwrap();
    assert!(manifest.ends_with(object), "{object} vs {}", manifest.display());
    std::fs::write(&manifest, original).unwrap();
    assert_eq!(verify(&ws, &["--public-key", public]).0, 0);

    // gc records what it removes: still whole afterwards.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = ws.driftwatch(&["gc", "--older-than", "1s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("deleted 2 runs"), "{said}");
    let (code, out) = verify(&ws, &["--public-key", public]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_unsigned_history_fails_a_signature_check() {
    let (ws, public) = signed_workspace();
    let config = std::fs::read_to_string(ws.config()).unwrap();
    let unsigned = config.replace("[integrity]\nsigning_key_file = \"key.pem\"\n", "");
    std::fs::write(ws.config(), unsigned).unwrap();
    ws.audit_json();
    let (code, out) = verify(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unsigned"), "{out}");
    let (code, out) = verify(&ws, &["--public-key", public.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not signed"), "{out}");
}

/// The reports say what the chain says of the runs they cover: each run page its own
/// standing when it was written, the index every recent run's, so a manifest edited
/// after it was linked shows as CHANGED on the next audit's index.
#[test]
fn reports_show_the_chain_standing_of_the_runs_they_cover() {
    let (ws, _) = signed_workspace();
    ws.audit_json();
    ws.audit_json();
    let reports = ws.store().join("reports");
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(index.contains("2 of 2 recent runs linked with their manifests unchanged"), "{index}");
    assert!(index.contains("signatures checked"), "{index}");
    let run_page = |n: usize| {
        let mut pages: Vec<_> =
            std::fs::read_dir(reports.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
        pages.sort();
        std::fs::read_to_string(&pages[n]).unwrap()
    };
    let second = run_page(1);
    assert!(
        second.contains("link 1, manifest unchanged, signed by key")
            && second.contains("(signature checked)"),
        "{second}"
    );

    let mut manifests: Vec<_> = ws
        .store_files()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with(ws.store().join("runs")))
        .collect();
    manifests.sort();
    let first = &manifests[0];
    let stored = std::fs::read(first).unwrap();
    let json = driftwatch::store::manifest::expand(&stored).unwrap();
    let edited = String::from_utf8(json.to_vec()).unwrap().replace("\"manual\"", "\"schedule\"");
    std::fs::write(first, edited).unwrap();
    ws.audit_json();
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(
        index.contains("2 of 3 recent runs linked")
            && index.contains("1 CHANGED after they were linked")
            && index.contains("the manifest differs from what link 0 of the chain vouches for")
            && index.contains("BROKEN"),
        "{index}"
    );
}
