//! Raw TOML → validated policies. Each `[policy]`, `[[rule]]` and `[[waiver]]` table is
//! deserialized on its own, so one bad rule does not hide the problems of the next;
//! every problem becomes a [`Diagnostic`] at the offending value's line and column.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use operators::{OperatorTable, a, operators};

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use sha2::{Digest as _, Sha256};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::rule::{Condition, Missing, Rule};
use super::{AppliesTo, ExpectedDifference, Overlay, Policy, PolicySource, Waiver};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::finding::{Reference, Severity};
use crate::snapshot::{Kind, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Spanned<String>,
    version: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    /// The pack the file belongs to (`replication`, `security`, `connections`, or one of
    /// the user's own); files without one always run.
    #[serde(default)]
    pack: Option<Spanned<String>>,
    applies_to: RawAppliesTo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppliesTo {
    kind: Spanned<String>,
    #[serde(default)]
    role: Option<Spanned<OneOrMany<Role>>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    key: Spanned<String>,
    expect: Spanned<OperatorTable>,
    severity: Spanned<String>,
    #[serde(default)]
    rationale: Option<String>,
    #[serde(default)]
    remediation: Option<String>,
    #[serde(default)]
    when: Option<Spanned<OperatorTable>>,
    #[serde(default)]
    roles: Option<Spanned<OneOrMany<Role>>>,
    #[serde(default)]
    missing: Option<Missing>,
    #[serde(default)]
    references: Vec<Spanned<RawReference>>,
}

/// One of a rule's `references`: a benchmark control (`benchmark`, `control`, `title`,
/// optional `url`) or a documentation link (`title`, `url`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    #[serde(default)]
    benchmark: Option<Spanned<String>>,
    #[serde(default)]
    control: Option<Spanned<String>>,
    title: Spanned<String>,
    #[serde(default)]
    url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: Spanned<String>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    reason: Spanned<String>,
    expires: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectedDifference {
    keys: Vec<Spanned<String>>,
    reason: String,
}

/// `"replica"` or `["primary", "standalone"]`.
struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(s)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// What the cross-file checks need from one file, even when the file has problems.
struct FileFacts {
    policy: Option<Policy>,
    name: Option<Spanned<String>>,
    /// Every `[[rule]] id` that is a string, valid rule or not.
    rule_ids: Vec<(String, Range<usize>)>,
    waiver_rules: Vec<(String, Range<usize>)>,
    overlay_rules: Vec<(String, Range<usize>)>,
    /// The file did not parse as TOML: its rule ids may be incomplete.
    broken: bool,
}

/// Load every file, then check across files: duplicate policy names, duplicate rule
/// ids, waivers for unknown rules. Sources must be sorted by path.
pub(super) fn load_all(sources: &[PolicySource]) -> Result<Vec<Policy>, Diagnostics> {
    let mut diags = Vec::new();
    let facts: Vec<FileFacts> = sources.iter().map(|s| load_file(s, &mut diags)).collect();

    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut ids: HashMap<&str, &str> = HashMap::new();
    for (src, f) in sources.iter().zip(&facts) {
        if let Some(name) = &f.name
            && let Some(first) = names.insert(name.get_ref(), &src.path)
        {
            let msg = format!("policy name `{}` is already used by {first}", name.get_ref());
            diags.push(Diagnostic::at_span(&src.file, &src.text, Some(name.span()), msg));
        }
        for (id, span) in &f.rule_ids {
            if let Some(first) = ids.get(id.as_str()) {
                let msg = format!("duplicate rule id `{id}` (first defined in {first})");
                diags.push(Diagnostic::at_span(&src.file, &src.text, Some(span.clone()), msg));
            } else {
                ids.insert(id, &src.path);
            }
        }
    }
    if facts.iter().all(|f| !f.broken) {
        for (src, f) in sources.iter().zip(&facts) {
            for (rule, span) in f.waiver_rules.iter().filter(|(r, _)| !ids.contains_key(r.as_str()))
            {
                let msg = format!("waiver for unknown rule `{rule}`");
                diags.push(Diagnostic::at_span(&src.file, &src.text, Some(span.clone()), msg));
            }
            for (rule, span) in
                f.overlay_rules.iter().filter(|(r, _)| !ids.contains_key(r.as_str()))
            {
                let msg = format!("overlay for unknown rule `{rule}`");
                diags.push(Diagnostic::at_span(&src.file, &src.text, Some(span.clone()), msg));
            }
        }
    }
    if !diags.is_empty() {
        return Err(Diagnostics::sorted(diags));
    }
    Ok(facts.into_iter().filter_map(|f| f.policy).collect())
}

/// Reports problems of one file as they are found.
struct Sink<'a> {
    src: &'a PolicySource,
    diags: &'a mut Vec<Diagnostic>,
    before: usize,
}

impl Sink<'_> {
    fn at(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at_span(&self.src.file, &self.src.text, Some(span), msg));
    }

    fn serde(&mut self, context: &str, e: &toml::de::Error) {
        let msg = format!("{context}: {}", e.message().trim_end());
        self.diags.push(Diagnostic::at_span(&self.src.file, &self.src.text, e.span(), msg));
    }

    fn clean(&self) -> bool {
        self.diags.len() == self.before
    }
}

fn load_file(src: &PolicySource, diags: &mut Vec<Diagnostic>) -> FileFacts {
    let before = diags.len();
    let mut sink = Sink { src, diags, before };
    let mut facts = FileFacts {
        policy: None,
        name: None,
        rule_ids: vec![],
        waiver_rules: vec![],
        overlay_rules: vec![],
        broken: false,
    };
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    for e in &errors {
        sink.serde("invalid TOML", e);
    }
    facts.broken = !errors.is_empty();

    let (mut policy, mut rules, mut waivers) = (None, vec![], vec![]);
    let (mut differences, mut overlays) = (vec![], vec![]);
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "policy" => policy = Some(value),
            "rule" => rules = tables(value, "rule", &mut sink),
            "waiver" => waivers = tables(value, "waiver", &mut sink),
            "expected_difference" => {
                differences = tables(value, "expected_difference", &mut sink);
            }
            "overlay" => overlays = tables(value, "overlay", &mut sink),
            other => {
                let msg = format!(
                    "unknown top-level key `{other}` (expected [policy], [[rule]], [[waiver]], [[overlay]] or [[expected_difference]])"
                );
                sink.at(key.span(), msg);
            }
        }
    }
    for t in &rules {
        if let Some(id) = t.get_ref().get("id").filter(|v| v.get_ref().is_str())
            && let Some(s) = id.get_ref().as_str()
        {
            facts.rule_ids.push((s.to_owned(), id.span()));
        }
    }
    if facts.broken {
        return facts;
    }

    let header = match policy.map(|p| RawPolicy::deserialize(ValueDeserializer::from(p))) {
        Some(Ok(raw)) => policy_header(raw, &mut sink),
        Some(Err(e)) => {
            sink.serde("[policy]", &e);
            None
        }
        None => {
            sink.diags.push(Diagnostic::whole_file(&src.file, "missing [policy] table"));
            None
        }
    };
    let rules: Vec<Rule> = rules
        .into_iter()
        .filter_map(|t| match RawRule::deserialize(ValueDeserializer::from(t)) {
            Ok(raw) => rule(raw, &mut sink),
            Err(e) => {
                sink.serde("[[rule]]", &e);
                None
            }
        })
        .collect();
    let waivers: Vec<Waiver> = waivers
        .into_iter()
        .filter_map(|t| match RawWaiver::deserialize(ValueDeserializer::from(t)) {
            Ok(raw) => {
                facts.waiver_rules.push((raw.rule.get_ref().clone(), raw.rule.span()));
                waiver(raw, &mut sink)
            }
            Err(e) => {
                sink.serde("[[waiver]]", &e);
                None
            }
        })
        .collect();
    let overlays: Vec<Overlay> = overlays
        .into_iter()
        .filter_map(|t| match overlay::RawOverlay::deserialize(ValueDeserializer::from(t)) {
            Ok(raw) => {
                facts.overlay_rules.push((raw.rule.get_ref().clone(), raw.rule.span()));
                overlay::overlay(raw, &mut sink)
            }
            Err(e) => {
                sink.serde("[[overlay]]", &e);
                None
            }
        })
        .collect();

    let expected_differences: Vec<ExpectedDifference> = differences
        .into_iter()
        .filter_map(|t| match RawExpectedDifference::deserialize(ValueDeserializer::from(t)) {
            Ok(raw) => expected_difference(raw, &mut sink),
            Err(e) => {
                sink.serde("[[expected_difference]]", &e);
                None
            }
        })
        .collect();

    if let Some(Header { name, version, description, pack, applies_to }) = header {
        facts.name = Some(name.clone());
        if sink.clean() {
            facts.policy = Some(Policy {
                name: name.into_inner(),
                version,
                description,
                pack,
                path: src.path.clone(),
                sha256: hex::encode(Sha256::digest(src.text.as_bytes())),
                applies_to,
                rules,
                waivers,
                expected_differences,
                overlays,
            });
        }
    }
    facts
}

/// The elements of `[[rule]]` / `[[waiver]]`; anything else is a diagnostic.
fn expected_difference(
    raw: RawExpectedDifference,
    sink: &mut Sink<'_>,
) -> Option<ExpectedDifference> {
    let mut keys = Vec::with_capacity(raw.keys.len());
    for key in raw.keys {
        if !key.get_ref().contains('.') {
            let msg = format!(
                "key `{}` needs a namespace, e.g. `setting.{}`",
                key.get_ref(),
                key.get_ref()
            );
            sink.at(key.span(), msg);
            return None;
        }
        keys.push(key.into_inner());
    }
    Some(ExpectedDifference { keys, reason: raw.reason })
}

fn tables<'i>(
    value: Spanned<DeValue<'i>>,
    name: &str,
    sink: &mut Sink<'_>,
) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        other => {
            let msg = format!(
                "`{name}` must be an array of tables: write [[{name}]], found {}",
                a(other.type_str())
            );
            sink.at(span, msg);
            vec![]
        }
    }
}

/// A valid `[policy]` table.
struct Header {
    name: Spanned<String>,
    version: String,
    description: Option<String>,
    pack: Option<String>,
    applies_to: AppliesTo,
}

fn policy_header(raw: RawPolicy, sink: &mut Sink<'_>) -> Option<Header> {
    let mut ok = true;
    for (field, value) in [("name", &raw.name), ("version", &raw.version)] {
        if value.get_ref().trim().is_empty() {
            sink.at(value.span(), format!("[policy] {field} must not be empty"));
            ok = false;
        }
    }
    let kind = raw.applies_to.kind;
    let kind = match Kind::ALL.into_iter().find(|k| k.as_str() == kind.get_ref()) {
        Some(k) => Some(k),
        None => {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            let msg =
                format!("unknown kind `{}` (expected one of {})", kind.get_ref(), names.join(", "));
            sink.at(kind.span(), msg);
            None
        }
    };
    let roles = roles(raw.applies_to.role, "applies_to.role", sink);
    let applies_to = AppliesTo { kind: kind?, roles: roles?, labels: raw.applies_to.labels };
    let pack = match raw.pack {
        Some(pack) if !super::is_pack_name(pack.get_ref()) => {
            let msg = format!(
                "[policy] pack `{}` must be lowercase letters, digits and `-`",
                pack.get_ref()
            );
            sink.at(pack.span(), msg);
            ok = false;
            None
        }
        pack => pack.map(Spanned::into_inner),
    };
    ok.then(|| Header {
        name: raw.name,
        version: raw.version.into_inner(),
        description: raw.description,
        pack,
        applies_to,
    })
}

fn roles(
    raw: Option<Spanned<OneOrMany<Role>>>,
    field: &str,
    sink: &mut Sink<'_>,
) -> Option<Vec<Role>> {
    match raw {
        None => Some(vec![]),
        Some(list) if list.get_ref().0.is_empty() => {
            sink.at(list.span(), format!("{field} must name at least one role (or be left out)"));
            None
        }
        Some(list) => Some(list.into_inner().0),
    }
}

fn rule(raw: RawRule, sink: &mut Sink<'_>) -> Option<Rule> {
    let before = sink.diags.len();
    if raw.id.get_ref().trim().is_empty() {
        sink.at(raw.id.span(), "rule id must not be empty");
    }
    check_key(&raw.key, sink);
    let severity = Severity::parse(raw.severity.get_ref());
    if severity.is_none() {
        let msg = format!(
            "unknown severity `{}` (expected critical, high, medium, low or info)",
            raw.severity.get_ref()
        );
        sink.at(raw.severity.span(), msg);
    }
    let expect_span = raw.expect.span();
    let expect = operators(raw.expect, "expect", sink);
    if let Some(crate::policy::rule::Expect::Counter { measure, .. }) = &expect
        && !raw.key.get_ref().starts_with("state.")
    {
        let msg = format!(
            "`{}` judges a counter between two collections: its key must be a `state.` reading, not `{}`",
            measure.as_str(),
            raw.key.get_ref()
        );
        sink.at(expect_span, msg);
    }
    let when = raw.when.map(|w| condition(w, sink));
    let roles = roles(raw.roles, "roles", sink);
    let references: Vec<Reference> =
        raw.references.into_iter().filter_map(|r| reference(r, sink)).collect();
    if sink.diags.len() != before {
        return None;
    }
    Some(Rule {
        id: raw.id.into_inner(),
        key: raw.key.into_inner(),
        expect: expect?,
        severity: severity?,
        rationale: raw.rationale.map(Arc::from),
        remediation: raw.remediation.map(Arc::from),
        references: references.into(),
        when: when.flatten(),
        roles: roles?,
        missing: raw.missing.unwrap_or(Missing::Error),
    })
}

/// A benchmark control needs its benchmark, control id and title; a documentation link
/// its title and url; every url is `http://` or `https://` with a host.
fn reference(raw: Spanned<RawReference>, sink: &mut Sink<'_>) -> Option<Reference> {
    let span = raw.span();
    let raw = raw.into_inner();
    let before = sink.diags.len();
    let text = |field: Option<Spanned<String>>, name: &str, sink: &mut Sink<'_>| {
        let field = field?;
        if field.get_ref().trim().is_empty() {
            sink.at(field.span(), format!("reference `{name}` must not be empty"));
            return None;
        }
        Some(field.into_inner())
    };
    let title = text(Some(raw.title), "title", sink);
    let (benchmark, control) = (raw.benchmark, raw.control);
    match (&benchmark, &control) {
        (Some(b), None) => sink.at(
            b.span(),
            "a reference with a `benchmark` needs the `control` id too, e.g. control = \"3.1.20\"",
        ),
        (None, Some(c)) => sink.at(c.span(), "a reference with a `control` needs its `benchmark`"),
        (None, None) if raw.url.is_none() => sink.at(
            span,
            "a reference is a benchmark control (`benchmark`, `control`, `title`) or a documentation link (`title`, `url`)",
        ),
        _ => {}
    }
    let url = raw.url.and_then(|u| {
        let ok = ["https://", "http://"].iter().any(|scheme| {
            u.get_ref().strip_prefix(scheme).is_some_and(|rest| {
                !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
            })
        });
        if !ok {
            let msg =
                format!("reference url `{}` must be an http:// or https:// address", u.get_ref());
            sink.at(u.span(), msg);
        }
        ok.then(|| u.into_inner())
    });
    let benchmark = text(benchmark, "benchmark", sink);
    let control = text(control, "control", sink);
    let title = title?;
    (sink.diags.len() == before).then_some(Reference { benchmark, control, title, url })
}

/// Keys are namespaced (`setting.wal_level`, `state.…`, `replication.primary_host`): a
/// bare `wal_level` is a typo that would otherwise only show up as an absent key.
fn check_key(key: &Spanned<String>, sink: &mut Sink<'_>) -> bool {
    let k = key.get_ref();
    let ok = k.split_once('.').is_some_and(|(ns, name)| {
        !ns.is_empty() && !name.is_empty() && !k.contains(char::is_whitespace)
    });
    if !ok {
        let msg = format!("key `{k}` needs a namespace, e.g. `setting.{k}` or `state.{k}`");
        sink.at(key.span(), msg);
        return false;
    }
    if super::each::is_pattern(k) && !super::each::valid_pattern(k) {
        let msg = format!(
            "key `{k}`: `*` stands for every role or every database, as in `role.*.statement_timeout` or `database.*.statement_timeout`"
        );
        sink.at(key.span(), msg);
        return false;
    }
    ok
}

/// A `when` table: `key` plus one operator.
fn condition(table: Spanned<OperatorTable>, sink: &mut Sink<'_>) -> Option<Condition> {
    let span = table.span();
    let mut table = table.into_inner();
    let Some((_, key)) = table.remove_entry("key") else {
        sink.at(span, "`when` needs a `key` and one operator");
        return None;
    };
    let key = match key.get_ref() {
        toml::Value::String(s) => Spanned::new(key.span(), s.clone()),
        other => {
            sink.at(
                key.span(),
                format!("`when.key` must be a string, found {}", a(other.type_str())),
            );
            return None;
        }
    };
    let mut key_ok = check_key(&key, sink);
    if key_ok && super::each::is_pattern(key.get_ref()) {
        sink.at(key.span(), "`when.key` names one key; `*` patterns are for a rule's `key`");
        key_ok = false;
    }
    let expect = operators(Spanned::new(span, table), "when", sink)?;
    key_ok.then(|| Condition { key: key.into_inner(), expect })
}

fn waiver(raw: RawWaiver, sink: &mut Sink<'_>) -> Option<Waiver> {
    let mut ok = true;
    if raw.reason.get_ref().trim().is_empty() {
        sink.at(raw.reason.span(), "a waiver needs a reason");
        ok = false;
    }
    if let Some(t) = raw.target.as_ref().filter(|t| t.get_ref().trim().is_empty()) {
        sink.at(t.span(), "waiver target must not be empty (leave it out to cover every target)");
        ok = false;
    }
    let expires = match raw.expires.get_ref() {
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            NaiveDate::parse_from_str(&dt.to_string(), "%Y-%m-%d").ok()
        }
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    };
    if expires.is_none() {
        sink.at(raw.expires.span(), "`expires` must be a date like 2027-03-31");
    }
    let expires = expires?;
    ok.then(|| Waiver {
        rule: raw.rule.into_inner(),
        target: raw.target.map(Spanned::into_inner),
        reason: raw.reason.into_inner(),
        expires,
    })
}

mod operators;
mod overlay;
#[cfg(test)]
mod tests;
