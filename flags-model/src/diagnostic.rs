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
}

impl Diagnostic {
    /// A problem at byte range `span` of the file.
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        Self {
            message: message.into(),
            span: Some(span),
            help: None,
        }
    }

    /// A problem about the file as a whole (shown at its first line).
    pub fn whole_file(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span: None,
            help: None,
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
    pub fn render(&self, file: &SourceFile) -> String {
        let span = self.span.clone().unwrap_or(0..0);
        let start = file.location(span.start);
        let line = file.line_text(start.line);
        let gutter = start.line.to_string().len();
        let pad = " ".repeat(gutter);

        let mut out = String::new();
        let _ = writeln!(out, "{}", self.message);
        let _ = writeln!(
            out,
            "{pad}--> {}:{}:{}",
            file.name(),
            start.line,
            start.column
        );
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {line}", start.line);
        if self.span.is_some() {
            let line_range = file.line_range(span.start);
            let marked_end = span.end.clamp(span.start, line_range.end);
            let width = file.text()[span.start.min(line_range.end)..marked_end]
                .chars()
                .count()
                .max(1);
            let _ = writeln!(
                out,
                "{pad} | {}{}",
                " ".repeat(start.column - 1),
                "^".repeat(width)
            );
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out.trim_end().to_owned()
    }
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
}
