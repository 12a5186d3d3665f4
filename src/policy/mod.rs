//! Policy baselines: loading the TOML files of `policies/`, and evaluating their rules
//! against a snapshot. Evaluation is pure: no I/O, no clock (the caller passes `today`).
//!
//! INTERFACE (owned by the policy work; the rest of the crate uses only these items):
//!
//! ```ignore
//! pub struct PolicySource { pub path: String /* relative, '/'-separated */, pub file: PathBuf, pub text: String }
//! pub fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, Diagnostics>;      // the one I/O function
//! pub fn parse(sources: Vec<PolicySource>) -> Result<PolicySet, Diagnostics>;  // pure, all problems at once
//! impl PolicySet {
//!     pub fn bundle(&self) -> &PolicyBundle;            // crate::run::PolicyBundle
//!     pub fn sources(&self) -> &[PolicySource];         // to store the exact files a run used
//! }
//! pub struct TargetFacts<'a> { pub name: &'a str, pub kind: Kind, pub role: Role,
//!                              pub labels: &'a BTreeMap<String, String> }
//! pub fn evaluate(set: &PolicySet, target: &TargetFacts<'_>, snapshot: &Snapshot,
//!                 state: &State, today: chrono::NaiveDate) -> Vec<Finding>;
//! ```
