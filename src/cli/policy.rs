//! `driftwatch policy lint`: every problem of a policy folder, before review.

use std::path::PathBuf;
use std::process::ExitCode;

use driftwatch::diagnostic::Diagnostics;
use driftwatch::policy;

use super::report_diagnostics;

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Check policy files: what loading reports, plus unknown setting names (with a
    /// did-you-mean), values that do not parse with their units, and expired waivers.
    Lint {
        /// The policy folder.
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
}

pub fn run(command: PolicyCommand) -> ExitCode {
    let PolicyCommand::Lint { dir } = command;
    let sources = match driftwatch::policy_files::read(&dir) {
        Ok(sources) => sources,
        Err(diagnostics) => return report_diagnostics("policies", &diagnostics),
    };
    let today = chrono::Utc::now().date_naive();
    let mut problems = policy::lint::lint(&sources, today);
    let loaded = policy::parse(sources);
    let counts = match &loaded {
        Ok(set) => Some((
            set.policies().len(),
            set.policies().iter().map(|p| p.rules.len()).sum::<usize>(),
        )),
        Err(d) => {
            problems.extend(d.0.iter().cloned());
            None
        }
    };
    match counts {
        Some((policies, rules)) if problems.is_empty() => {
            println!("{policies} policies, {rules} rules: ok");
            ExitCode::SUCCESS
        }
        _ => report_diagnostics("policies", &Diagnostics::sorted(problems)),
    }
}
