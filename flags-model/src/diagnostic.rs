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
            message: shorten_quoted(message.into()),
            span: Some(span),
            help: None,
            flag: None,
        }
    }

    /// A problem about the file as a whole (shown at its first line).
    pub fn whole_file(message: impl Into<String>) -> Self {
        Self {
            message: shorten_quoted(message.into()),
            span: None,
            help: None,
            flag: None,
        }
    }

    /// Adds a hint saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(shorten_quoted(help.into()));
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

/// The longest name a message quotes whole, in characters; a longer one (a key of thousands
/// of characters) is shown by its start and end, so that a message's size does not grow with
/// the names it quotes. [`Diagnostic::flag`] keeps the whole key.
pub const QUOTED_WIDTH: usize = 64;

/// `text` with every part between backticks longer than [`QUOTED_WIDTH`] characters cut in
/// the middle, where `…` stands for what was left out.
fn shorten_quoted(text: String) -> String {
    let too_long = text
        .split('`')
        .skip(1)
        .step_by(2)
        .any(|quoted| quoted.chars().count() > QUOTED_WIDTH);
    if !too_long {
        return text;
    }
    let parts: Vec<&str> = text.split('`').collect();
    let mut out = String::with_capacity(text.len().min(1024));
    for (position, part) in parts.iter().enumerate() {
        if position > 0 {
            out.push('`');
        }
        // Odd parts are quoted, unless the last backtick is unpaired.
        let quoted = position % 2 == 1 && position + 1 < parts.len();
        let length = part.chars().count();
        if quoted && length > QUOTED_WIDTH {
            let kept = (QUOTED_WIDTH - 1) / 2;
            out.extend(part.chars().take(kept));
            out.push('…');
            out.extend(part.chars().skip(length - kept));
        } else {
            out.push_str(part);
        }
    }
    out
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
    fn a_long_quoted_name_is_shown_by_its_start_and_end() {
        let key = format!("{}_enabled", "a".repeat(3_000));
        let diagnostic = Diagnostic::new(format!("unknown key `x` in flag `{key}`"), 0..1)
            .with_help(format!("rename `{key}`"))
            .with_flag(&key);
        let message = diagnostic.message();
        assert!(message.len() < 200, "{message}");
        assert!(
            message.starts_with("unknown key `x` in flag `aaaa"),
            "{message}"
        );
        assert!(message.ends_with("aaaa_enabled`"), "{message}");
        assert_eq!(message.matches('…').count(), 1, "{message}");
        let quoted = message.split('`').nth(3).expect("the flag quoted");
        assert_eq!(quoted.chars().count(), QUOTED_WIDTH - 1);
        assert!(diagnostic.help().is_some_and(|help| help.len() < 100));
        // The flag keeps its whole key, for tools that match on it.
        assert_eq!(diagnostic.flag(), Some(key.as_str()));
        // Short names and unpaired backticks stay as written.
        let plain = Diagnostic::whole_file("flag `beta_enabled` and a stray ` here");
        assert_eq!(plain.message(), "flag `beta_enabled` and a stray ` here");
        let stray = format!("a stray ` then {key}");
        assert_eq!(Diagnostic::whole_file(stray.clone()).message(), stray);
    }

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
