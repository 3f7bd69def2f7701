//! Problems found in a config file, each located by 1-based line and column, printed `FILE:LINE:COL: message`.

use std::fmt;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes).
    pub col: usize,
    /// What is wrong and what to do about it.
    pub message: String,
}

/// Every problem found in one config file, sorted by position.
///
/// Displays as one `FILE:LINE:COL: message` line per problem, without a trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as given to [`Config::parse`](super::Config::parse) or [`Config::load`](super::Config::load).
    pub file: String,
    /// The problems, in file order.
    pub items: Vec<Diagnostic>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: {}", self.file, d.line, d.col, d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects problems while the config is read, located by byte offset into `text`.
#[derive(Debug)]
pub(super) struct Report<'t> {
    text: &'t str,
    items: Vec<Diagnostic>,
}

impl<'t> Report<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self { text, items: Vec::new() }
    }

    /// Records a problem at byte `offset` of the text.
    pub(super) fn error(&mut self, offset: usize, message: impl Into<String>) {
        let (line, col) = line_col(self.text, offset);
        self.items.push(Diagnostic { line, col, message: message.into() });
    }

    /// The 1-based line holding byte `offset`, to refer to an earlier definition in a message.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        line_col(self.text, offset).0
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems sorted by position (stable, so problems at one position keep their order).
    pub(super) fn finish(mut self, file: &str) -> Diagnostics {
        self.items.sort_by_key(|d| (d.line, d.col));
        Diagnostics { file: file.to_owned(), items: self.items }
    }
}

/// 1-based line and character column of byte `offset` (clamped into the text).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "a = 1\nnäme = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // "näme = 2": the '=' is the 6th character but the 7th byte of its line.
        assert_eq!(line_col(text, text.rfind('=').unwrap()), (2, 6));
        assert_eq!(line_col(text, text.len() + 10), (3, 1));
    }

    #[test]
    fn displays_one_line_per_problem_without_trailing_newline() {
        let diagnostics = Diagnostics {
            file: "cam.toml".into(),
            items: vec![
                Diagnostic { line: 2, col: 8, message: "first".into() },
                Diagnostic { line: 10, col: 1, message: "second".into() },
            ],
        };
        assert_eq!(diagnostics.to_string(), "cam.toml:2:8: first\ncam.toml:10:1: second");
    }
}
