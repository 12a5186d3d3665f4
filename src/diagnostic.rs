//! Problems in a user's file (config or policy), each pointing at file:line:col. Every
//! loader collects all of them before giving up, so one run of the tool shows every
//! mistake at once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem at one place in one file. Lines and columns count from 1; columns count
/// characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at the start of `span` (byte offsets into `text`).
    pub fn at_span(
        file: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match span {
            Some(span) => line_col(text, span.start),
            None => (1, 1),
        };
        Diagnostic { file: file.to_owned(), line, column, message: message.into() }
    }

    /// A problem with the file as a whole (unreadable, empty folder, …).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_owned(), line: 1, column: 1, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

/// A non-empty list of diagnostics, shown one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostics {
    /// Sorted by file and position, so output is stable whatever order checks ran in.
    pub fn sorted(mut list: Vec<Diagnostic>) -> Diagnostics {
        list.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        list.dedup();
        Diagnostics(list)
    }
}

/// 1-based line and column of byte `offset` in `text`. An offset past the end points
/// just after the last character; one inside a multi-byte character counts it whole.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.as_bytes()[..offset].iter();
    let line = 1 + before.filter(|&&b| b == b'\n').count();
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&text.as_bytes()[line_start..offset]).chars().count();
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // 'é' is two bytes; the '=' after it is the 4th character of line 2.
        assert_eq!(line_col(text, 10), (2, 4));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn display_is_file_line_col_message() {
        let d = Diagnostic::at_span(Path::new("x.toml"), "a\nb", Some(2..3), "bad");
        assert_eq!(d.to_string(), "x.toml:2:1: bad");
    }
}
