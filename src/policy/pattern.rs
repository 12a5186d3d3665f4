//! `matches` patterns: the `regex` crate's syntax and matching, built the way
//! `regex::Regex::new` builds a pattern but without determinizing it up front.
//!
//! Why not `regex::Regex`: tracing-subscriber's env filter turns on regex-automata's
//! `dfa-build` feature, and with it the `regex` crate builds a full DFA for every small
//! pattern: ~1.6 M instructions a pattern, a third of a one-target audit's instructions
//! (callgrind, BENCHMARKS.md, sixth round), paid at every start for every pattern of every
//! policy whether or not a target of its engine is audited. Without the full DFA the
//! meta engine uses its lazy one, which builds only the states a match visits (a rule
//! matches one value per target). Same syntax configuration, same match semantics
//! (leftmost-first, UTF-8 on), same size limits, same error text: the tests hold the
//! two builders to each other.

use std::fmt;
use std::sync::Arc;

use regex_automata::meta;
use regex_automata::util::syntax;

/// A compiled `matches` pattern and the text it was written as.
#[derive(Clone)]
pub struct Pattern {
    written: Arc<str>,
    meta: meta::Regex,
}

impl Pattern {
    /// Builds `pattern`, or says why it is not a regex, in the words
    /// `regex::Regex::new`'s error uses.
    pub fn new(pattern: &str) -> Result<Pattern, PatternError> {
        // What `regex::RegexBuilder` sets (regex 1.x, `builders.rs`), and no full DFA.
        let config = meta::Config::new()
            .nfa_size_limit(Some(10 * (1 << 20)))
            .hybrid_cache_capacity(2 * (1 << 20))
            .match_kind(regex_automata::MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .dfa(false);
        meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(true))
            .build(pattern)
            .map(|meta| Pattern { written: Arc::from(pattern), meta })
            .map_err(|e| PatternError::of(&e))
    }

    /// Whether the pattern matches anywhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.meta.is_match(haystack)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.as_str()).finish()
    }
}

/// Why a pattern did not build: the text `regex::Error`'s `Display` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(String);

impl PatternError {
    /// As `regex::Error::from_meta_build_error` words it.
    fn of(e: &meta::BuildError) -> PatternError {
        if let Some(limit) = e.size_limit() {
            PatternError(format!("Compiled regex exceeds size limit of {limit} bytes."))
        } else if let Some(syntax) = e.syntax_error() {
            PatternError(syntax.to_string())
        } else {
            PatternError(e.to_string())
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `matches` pattern of the shipped policies, and patterns that exercise what
    /// the full DFA would have decided (anchors, classes, Unicode, case folding, empty
    /// matches, alternations, word boundaries).
    fn patterns() -> Vec<String> {
        let mut all: Vec<String> = [
            r"^\S+$",
            r"^(on|true|yes|1)$",
            r"(?i)^(ON|TRUE)$",
            r"^$",
            r"",
            r"\bscram-sha-256\b",
            r"^[0-9]+(\.[0-9]+)?(ms|s|min)?$",
            r"^(?:[a-z_]+,)*[a-z_]+$",
            r"é|ß|\p{Greek}+",
            r"(?m)^x$",
            r"(?s)a.b",
            r"a*",
            r"TLSv1\.[23]",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let sources = crate::policy_files::read(&policies).expect("the shipped policies read");
        for source in &sources {
            let doc: toml::Value = toml::from_str(&source.text).expect("shipped policies parse");
            collect_matches(&doc, &mut all);
        }
        all
    }

    fn collect_matches(v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    match (k.as_str(), v) {
                        ("matches", toml::Value::String(s)) => out.push(s.clone()),
                        _ => collect_matches(v, out),
                    }
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| collect_matches(v, out)),
            _ => {}
        }
    }

    const HAYSTACKS: &[&str] = &[
        "",
        "on",
        "ON",
        "On",
        "true",
        "1",
        "0",
        "x",
        "y\nx",
        "a\nb",
        "axb",
        "scram-sha-256",
        "md5,scram-sha-256",
        "scram-sha-2567",
        "100ms",
        "1.5s",
        "10min",
        "10 min",
        "replication,localhost",
        "TLSv1.2,TLSv1.3",
        "TLSv1.1",
        "café",
        "Straße",
        "αβγ",
        "ΑΒΓ",
        "requirepass",
        "/var/lib/postgresql/15/main",
        "127.0.0.1:5432",
        " leading space",
        "yes",
        "warm\u{0}",
    ];

    #[test]
    fn matches_exactly_what_the_regex_crate_matches() {
        let all = patterns();
        // The shipped policies have patterns; if none were found the test proves little.
        assert!(all.len() > 20, "found only {} patterns", all.len());
        for p in &all {
            let ours = Pattern::new(p).unwrap_or_else(|e| panic!("{p:?} does not build: {e}"));
            let theirs = regex::Regex::new(p).expect("the regex crate builds it");
            assert_eq!(ours.as_str(), p);
            for h in HAYSTACKS {
                assert_eq!(ours.is_match(h), theirs.is_match(h), "pattern {p:?} on {h:?}");
            }
        }
    }

    #[test]
    fn refuses_what_the_regex_crate_refuses_in_its_words() {
        for p in ["(", "[z-a]", r"\p{NoSuchClass}", "a{5,2}", "(?<n>a)(?<n>b)", r"\", "^(?!x)"] {
            let ours = Pattern::new(p).expect_err(p).to_string();
            let theirs = regex::Regex::new(p).expect_err(p).to_string();
            assert_eq!(ours, theirs, "pattern {p:?}");
        }
        // Too big for the NFA size limit: the same limit, the same words.
        let huge = "\\w{1000}{1000}";
        let ours = Pattern::new(huge).expect_err("too big").to_string();
        let theirs = regex::Regex::new(huge).expect_err("too big").to_string();
        assert_eq!(ours, theirs);
    }
}
