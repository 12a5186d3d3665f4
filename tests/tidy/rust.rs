//! Just enough of Rust's lexical structure to read a source file as paths: comments,
//! strings and character literals dropped, `#[cfg(test)]` items told apart, `mod x;`
//! declarations found, and every path (`crate::policy::rule::parse_bool`, each leaf of
//! a `use a::{b, c::d}` tree) with its line. Not a parser: what a grep can check.

/// One token: an identifier, `::`, or any other single character.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// A path as written, its line, and whether it sits in test-only code.
#[derive(Debug, Clone)]
pub struct PathRef {
    pub segments: Vec<String>,
    pub line: usize,
    pub test: bool,
    /// Written in a `use` item (so a one-segment path is an import, not a variable).
    pub in_use: bool,
}

/// A `mod name;` declaration: a child file.
#[derive(Debug, Clone)]
pub struct ModDecl {
    pub name: String,
    pub test: bool,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub paths: Vec<PathRef>,
    pub mods: Vec<ModDecl>,
}

/// Tokens of `text` with their line (1-based); comments, literals and lifetimes dropped.
pub fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' || ((ch == 'b' || ch == 'c') && at(i + 1) == '"') {
            i += if ch == '"' { 1 } else { 2 };
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
        } else if raw_string_start(&c, i).is_some() {
            let (hashes, open) = raw_string_start(&c, i).unwrap();
            i = open + 1;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (0..hashes).all(|h| at(i + 1 + h) == '#') {
                    i += 1 + hashes;
                    break;
                }
                if c[i] == '\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            // A character literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a).
            let start = if ch == 'b' { i + 1 } else { i };
            if at(start + 1) == '\\' {
                let mut j = start + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if at(start + 2) == '\'' {
                i = start + 3;
            } else {
                // A lifetime or label: skip the quote and its name.
                i = start + 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch == 'r' && at(i + 1) == '#' && (at(i + 2).is_alphabetic() || at(i + 2) == '_') {
            let mut j = i + 2;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            out.push((Tok::Ident(c[i + 2..j].iter().collect()), line));
            i = j;
        } else if ch.is_alphabetic() || ch == '_' {
            let mut j = i;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            out.push((Tok::Ident(c[i..j].iter().collect()), line));
            i = j;
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// `r"`, `r#"`, `br##"`…: the number of hashes and the index of the opening quote.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c.get(j) == Some(&'b') || c.get(j) == Some(&'c') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    // Not the tail of an identifier such as `bar"`: the lexer only gets here at a start.
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j))
}

/// The paths and `mod` declarations of one file.
pub fn parse(text: &str) -> Parsed {
    let toks = tokens(text);
    let mut test = vec![false; toks.len()];
    let mut parsed = Parsed::default();
    // Mark every token of an item under `#[cfg(test)]` (or `cfg(any(test, …))`).
    let mut i = 0;
    while i < toks.len() {
        if toks[i].0 == Tok::Punct('#') && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Punct('[')) {
            let end = matching(&toks, i + 1);
            let attr = &toks[i + 2..end];
            let is_test = matches!(attr.first(), Some((Tok::Ident(s), _)) if s == "cfg")
                && attr.iter().any(|(t, _)| *t == Tok::Ident("test".into()))
                && !attr.iter().any(|(t, _)| *t == Tok::Ident("not".into()));
            if is_test {
                let item_end = item_end(&toks, end + 1);
                for t in test.iter_mut().take(item_end).skip(i) {
                    *t = true;
                }
                i = item_end;
                continue;
            }
            i = end + 1;
            continue;
        }
        i += 1;
    }
    // `mod name;` declarations.
    for i in 0..toks.len() {
        if toks[i].0 == Tok::Ident("mod".into())
            && let (Some((Tok::Ident(name), _)), Some((Tok::Punct(';'), _))) =
                (toks.get(i + 1), toks.get(i + 2))
        {
            parsed.mods.push(ModDecl { name: name.clone(), test: test[i] });
        }
    }
    // Paths.
    let mut in_use = false;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Ident(s) if s == "use" => {
                in_use = true;
                i += 1;
            }
            Tok::Punct(';') => {
                in_use = false;
                i += 1;
            }
            Tok::Ident(_) => {
                let after_sep_or_dot =
                    i > 0 && matches!(toks[i - 1].0, Tok::PathSep | Tok::Punct('.'));
                if after_sep_or_dot {
                    i += 1;
                    continue;
                }
                let (trees, next) = use_tree(&toks, i);
                for segments in trees {
                    parsed.paths.push(PathRef { segments, line: toks[i].1, test: test[i], in_use });
                }
                i = next.max(i + 1);
            }
            _ => i += 1,
        }
    }
    parsed
}

/// The index of the bracket closing the one at `open`.
fn matching(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0;
    for (j, (t, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    toks.len().saturating_sub(1)
}

/// One past the end of the item starting at `start`: its `;` or its `{ … }` body.
fn item_end(toks: &[(Tok, usize)], start: usize) -> usize {
    let mut j = start;
    while j < toks.len() {
        match toks[j].0 {
            Tok::Punct('#') => j = matching(toks, j + 1) + 1,
            Tok::Punct(';') => return j + 1,
            Tok::Punct('{') => return matching(toks, j) + 1,
            Tok::Punct('(' | '[') => j = matching(toks, j) + 1,
            _ => j += 1,
        }
    }
    toks.len()
}

/// The paths a use tree (or a plain path) starting at `i` spells, and where it ends.
fn use_tree(toks: &[(Tok, usize)], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix: Vec<String> = Vec::new();
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                prefix.push(s.clone());
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::Ident("as".into())) {
                    i += 2;
                }
                if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                return (vec![prefix], i);
            }
            Some(Tok::Punct('{')) if !prefix.is_empty() => {
                i += 1;
                let mut all = Vec::new();
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        None => return (all, i),
                        Some(Tok::Punct('}')) => return (all, i + 1),
                        Some(Tok::Punct(',')) => i += 1,
                        Some(Tok::Ident(_)) | Some(Tok::Punct('{')) => {
                            let (subs, next) = use_tree(toks, i);
                            for sub in subs {
                                let mut full = prefix.clone();
                                full.extend(sub);
                                all.push(full);
                            }
                            i = next;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            _ => return (if prefix.is_empty() { vec![] } else { vec![prefix] }, i),
        }
    }
}
