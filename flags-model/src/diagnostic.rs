//! Problems found in a file, with where they are and what to do.

use std::fmt::Write as _;
use std::ops::Range;

use crate::source::SourceFile;

/// One problem in a file: what is wrong, where, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    message: String,
    span: Option<Range<usize>>,
    help: Option<String>,
    flag: Option<String>,
}

impl Diagnostic {
    /// A problem at byte range `span` of the file.
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        Self {
            message: message.into(),
            span: Some(span),
            help: None,
            flag: None,
        }
    }

    /// A problem about the file as a whole (shown at its first line).
    pub fn whole_file(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: None,
            help: None,
            flag: None,
        }
    }

    /// Adds a hint saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a hint only when there is one.
    pub fn with_optional_help(self, help: Option<String>) -> Self {
        match help {
            Some(help) => self.with_help(help),
            None => self,
        }
    }

    /// Says which flag the problem is about (its key, or the name written for an unknown one).
    pub fn with_flag(mut self, flag: impl Into<String>) -> Self {
        self.flag = Some(flag.into());
        self
    }

    pub(crate) fn set_flag_if_unset(&mut self, flag: &str) {
        if self.flag.is_none() {
            self.flag = Some(flag.to_owned());
        }
    }

    /// The flag the problem is about, when it is about one.
    pub fn flag(&self) -> Option<&str> {
        self.flag.as_deref()
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The byte range the problem is at, if it is at a place.
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    /// What to do about it, when known.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Renders the problem with the file's name, line, column and the offending line:
    ///
    /// ```text
    /// `staging` of flag `beta_enabled` must be a bool, like its `default`; found a string
    ///   --> flags.toml:12:11
    ///    |
    /// 12 | staging = "yes"
    ///    |           ^^^^^
    ///    = help: write `true` or `false`
    /// ```
    ///
    /// Any span renders, even one outside the text or reversed: it is clamped to the text.
    /// A line longer than [`SNIPPET_WIDTH`] characters is shown as a window around the
    /// span, so the size of a message does not grow with the size of the line.
    pub fn render(&self, file: &SourceFile) -> String {
        let text = file.text();
        let span = self.span.clone().unwrap_or(0..0);
        let start = file.floor_boundary(span.start);
        let end = file.floor_boundary(span.end).max(start);
        let location = file.location(start);
        let line = file.line_text(location.line);
        let gutter = location.line.to_string().len();
        let pad = " ".repeat(gutter);

        // Characters of the line before the span, and of the span on this line.
        let before = location.column - 1;
        let marked = text
            .get(start..end)
            .unwrap_or("")
            .split(['\n', '\r'])
            .next()
            .unwrap_or("")
            .chars()
            .count();
        let (shown, caret_at) = snippet(line, before);

        let mut out = String::new();
        let _ = writeln!(out, "{}", self.message);
        let _ = writeln!(
            out,
            "{pad}--> {}:{}:{}",
            file.name(),
            location.line,
            location.column
        );
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {shown}", location.line);
        if self.span.is_some() {
            let shown_width = shown.chars().count();
            let width = marked.min(shown_width.saturating_sub(caret_at)).max(1);
            let _ = writeln!(out, "{pad} | {}{}", " ".repeat(caret_at), "^".repeat(width));
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out.trim_end().to_owned()
    }
}

/// The widest snippet of a line a rendered diagnostic shows, in characters.
pub const SNIPPET_WIDTH: usize = 120;

/// The part of `line` to show and the column (from 0) of character `at` in it: the whole
/// line when it is short enough, else a window of [`SNIPPET_WIDTH`] characters around `at`
/// with `…` where it is cut.
fn snippet(line: &str, at: usize) -> (String, usize) {
    let length = line.chars().count();
    let at = at.min(length);
    if length <= SNIPPET_WIDTH {
        return (line.to_owned(), at.min(length));
    }
    let context = SNIPPET_WIDTH / 3;
    let first = at.saturating_sub(context).min(length - SNIPPET_WIDTH);
    let mut shown: String = line.chars().skip(first).take(SNIPPET_WIDTH).collect();
    let mut caret_at = at - first;
    if first > 0 {
        shown.insert(0, '…');
        caret_at += 1;
    }
    if first + SNIPPET_WIDTH < length {
        shown.push('…');
    }
    (shown, caret_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let file = SourceFile::new("flags.toml", "[flags.x]\nstaging = \"yes\"\n");
        let at = file.text().find("\"yes\"").unwrap();
        let rendered = Diagnostic::new("must be a bool", at..at + 5)
            .with_help("write `true` or `false`")
            .render(&file);
        assert_eq!(
            rendered,
            "must be a bool\n \
             --> flags.toml:2:11\n  \
             |\n\
             2 | staging = \"yes\"\n  \
             |           ^^^^^\n  \
             = help: write `true` or `false`"
        );
    }

    #[test]
    fn caret_stops_at_end_of_line_for_multiline_spans() {
        let file = SourceFile::new("f.toml", "a = [\n 1,\n]\n");
        let rendered = Diagnostic::new("bad", 4..file.text().len()).render(&file);
        assert!(rendered.ends_with("1 | a = [\n  |     ^"), "{rendered}");
    }

    #[test]
    fn a_span_at_a_lone_carriage_return_renders() {
        for text in ["\r", "a = 1\r", "a = 1\r\n\r", "x\r\n"] {
            let file = SourceFile::new("f.toml", text);
            for start in 0..=text.len() + 1 {
                for end in 0..=text.len() + 1 {
                    let rendered = Diagnostic::new("bad", start..end).render(&file);
                    assert!(rendered.contains("--> f.toml:"), "{rendered}");
                }
            }
        }
    }

    #[test]
    fn long_lines_are_shown_as_a_window_around_the_span() {
        let line = format!("{}\"bad\"{}", "a".repeat(5_000), "b".repeat(5_000));
        let file = SourceFile::new("f.toml", line.clone());
        let at = line.find('"').unwrap();
        let rendered = Diagnostic::new("bad", at..at + 5).render(&file);
        assert!(rendered.len() < 2 * SNIPPET_WIDTH + 100, "{rendered}");
        let lines: Vec<&str> = rendered.lines().collect();
        let shown = lines[3].split_once(" | ").unwrap().1;
        let caret = lines[4].split_once(" | ").unwrap().1;
        let column = caret.find('^').unwrap();
        let marked: String = shown.chars().skip(column).take(5).collect();
        assert_eq!(marked, "\"bad\"");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(lines[1].ends_with(":1:5001"), "{}", lines[1]);
    }
}
