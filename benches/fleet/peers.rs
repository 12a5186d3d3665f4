//! The tools people run on MariaDB today, on the same server in the same run:
//! `pt-variable-advisor`, `pt-config-diff` (percona-toolkit) and `mysqltuner`.

use std::path::Path;
use std::process::Command;

use crate::measure::{Sample, median, ms, run, run_ok};
use crate::setup::{self, MARIADB, MARIADB_REPLICA};
use crate::{audit, ratio};

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: `apt-get install -y {package}` (or pass --no-peers)");
}

fn pt_variable_advisor() -> Command {
    let mut c = Command::new("pt-variable-advisor");
    c.arg(format!("h=127.0.0.1,P={},u=root", MARIADB.port));
    c
}

fn interleaved(reps: usize, a: &mut Command, b: &mut Command, b_ok: &[i32]) -> (Sample, Sample) {
    run_ok(a, &[0]);
    run_ok(b, b_ok);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        xs.push(run_ok(a, &[0]));
        ys.push(run_ok(b, b_ok));
    }
    (median(&xs), median(&ys))
}

/// One MariaDB target (and the primary/replica pair) beside the peers.
pub fn mariadb_peers(work: &Path, bin: &Path, reps: usize) {
    require("pt-variable-advisor", "percona-toolkit");
    require("mysqltuner", "mysqltuner");
    println!("\n## MariaDB beside the tools people use today\n");
    println!("| tool | what it does | wall (median) | driftwatch | driftwatch is |");
    println!("|---|---|---|---|---|");
    let dir = work.join("peers");
    std::fs::create_dir_all(&dir).expect("dir");
    let one = setup::write_config(&dir, "one.toml", 1, &[("m".into(), MARIADB, None)], false);
    let g = Some("pair".to_owned());
    let pair = setup::write_config(
        &dir.join(""),
        "pair.toml",
        2,
        &[("p".into(), MARIADB, g.clone()), ("r".into(), MARIADB_REPLICA, g)],
        false,
    );

    let (ours, pva) = interleaved(reps, &mut audit(bin, &one), &mut pt_variable_advisor(), &[0]);
    row("`pt-variable-advisor h=127.0.0.1,P=3306,u=root`", "advice on 1 server", pva, ours);
    let mut diff = Command::new("pt-config-diff");
    diff.arg(format!("h=127.0.0.1,P={},u=root", MARIADB.port));
    diff.arg(format!("h=127.0.0.1,P={},u=root", MARIADB_REPLICA.port));
    // pt-config-diff exits 1 when the servers differ, which they do (server_id, …).
    let (ours2, pcd) = interleaved(reps, &mut audit(bin, &pair), &mut diff, &[0, 1]);
    row(
        "`pt-config-diff h=…3306 h=…3307`",
        "diff of 2 servers (driftwatch: audit of the pair)",
        pcd,
        ours2,
    );
    let mut tuner = Command::new("mysqltuner");
    tuner.args(["--host", "127.0.0.1", "--port", &MARIADB.port.to_string()]);
    tuner.args(["--user", "root", "--pass", ""]);
    tuner.args(["--nocolor", "--noask", "--skipsize"]);
    let t = run(&mut tuner);
    let mut ts = vec![t];
    for _ in 1..reps.min(3) {
        ts.push(run(&mut tuner));
    }
    let t = median(&ts);
    row(
        &format!("`mysqltuner --host 127.0.0.1 … --skipsize` (exit {})", t.code),
        "tuning advice on 1 server",
        t,
        ours,
    );
    println!("\n(driftwatch: `driftwatch audit` of the same server(s), reports included.)");
}

fn row(tool: &str, what: &str, theirs: Sample, ours: Sample) {
    let r = 1.0 / ratio(ours, theirs);
    println!("| {tool} | {what} | {} | {} | {r:.1}× faster |", ms(theirs.wall), ms(ours.wall));
}

/// N MariaDB targets in one audit beside `pt-variable-advisor` once per target.
pub fn mariadb_fleet(work: &Path, bin: &Path, n: usize, reps: usize, concurrency: usize) {
    let dir = work.join(format!("mariadb-{n}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let config =
        setup::write_config(&dir, "driftwatch.toml", concurrency, &setup::mariadb_fleet(n), false);
    run_ok(&mut audit(bin, &config), &[0]);
    let (ours, pva) = interleaved(reps, &mut audit(bin, &config), &mut pt_variable_advisor(), &[0]);
    let loop_wall = pva.wall * n as u32;
    println!("\n## {n} MariaDB targets\n");
    println!("| | wall |\n|---|---|");
    println!("| driftwatch audit, {n} targets, concurrency {concurrency} | {} |", ms(ours.wall));
    println!(
        "| `pt-variable-advisor` once per target ({n} × median {}) | {} |",
        ms(pva.wall),
        ms(loop_wall)
    );
    println!(
        "| driftwatch is | {:.1}× faster |",
        loop_wall.as_secs_f64() / ours.wall.as_secs_f64()
    );
}
