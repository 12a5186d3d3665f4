//! Relative links in Markdown: `[text](target)` and `[label]: target`, outside code
//! blocks and code spans; the target file must exist and, when it is a Markdown file
//! and the link names a fragment, have that heading (GitHub's anchors) or an
//! `<a id="…">` / `<a name="…">`.

use std::collections::BTreeSet;

use super::Tree;

/// The broken links of `page`, as `page:line: link `target`: why`.
pub fn check(tree: &Tree, page: &str) -> Vec<String> {
    let text = tree.files[page].clone();
    let dir = page.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut out = Vec::new();
    for (line_no, target) in targets(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, fragment) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target.as_str(), None),
        };
        let resolved = if file.is_empty() { Some(page.to_string()) } else { join(dir, file) };
        let Some(resolved) = resolved else {
            out.push(format!("{page}:{line_no}: link `{target}`: leaves the repository"));
            continue;
        };
        if !tree.exists(&resolved) {
            out.push(format!("{page}:{line_no}: link `{target}`: no such file"));
            continue;
        }
        if let Some(fragment) = fragment
            && resolved.ends_with(".md")
            && let Some(linked) = tree.read(&resolved)
            && !anchors(&linked).contains(fragment)
        {
            out.push(format!(
                "{page}:{line_no}: link `{target}`: no heading `#{fragment}` in {resolved}"
            ));
        }
    }
    out
}

/// `dir/rel` with `.` and `..` resolved; `None` above the root.
fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Every link target with its line, code blocks and code spans left out.
fn targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let line = without_code_spans(line);
        // `[label]: target`
        if let Some(rest) = line.trim_start().strip_prefix('[')
            && let Some((_, after)) = rest.split_once("]:")
        {
            if let Some(t) = after.split_whitespace().next() {
                out.push((i + 1, t.trim_matches(['<', '>']).to_string()));
            }
            continue;
        }
        // `](target)` and `](target "title")`
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let inner = after[..end].trim();
            let t = inner.split_whitespace().next().unwrap_or("");
            if !t.is_empty() {
                out.push((i + 1, t.trim_matches(['<', '>']).to_string()));
            }
            rest = &after[end..];
        }
    }
    out
}

/// `line` with every `` `code` `` span blanked.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for ch in line.chars() {
        if ch == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if in_code {
            out.push(' ');
        } else {
            out.push(ch);
        }
    }
    out
}

/// The anchors a Markdown page has: GitHub's heading slugs (duplicates numbered) and
/// explicit `id=` / `name=` attributes.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attr) {
                let after = &rest[at + attr.len()..];
                let end = after.find('"').unwrap_or(after.len());
                out.insert(after[..end].to_string());
                rest = &after[end..];
            }
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(line[hashes..].trim());
            let mut anchor = base.clone();
            let mut n = 0;
            while out.contains(&anchor) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            out.insert(anchor);
        }
    }
    out
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
