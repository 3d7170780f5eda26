//! How results are shown: colour only on a terminal, and JSON for tools.

use std::borrow::Cow;
use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;
use flags_model::Value;

/// The output format of a subcommand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    #[default]
    Text,
    /// For tools: one JSON document on standard output.
    Json,
}

/// Colours text when the stream it goes to is a terminal (and `NO_COLOR` is not set).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paint {
    on: bool,
}

impl Paint {
    /// For standard output.
    pub(crate) fn stdout() -> Self {
        Self::when(std::io::stdout().is_terminal())
    }

    /// For standard error.
    pub(crate) fn stderr() -> Self {
        Self::when(std::io::stderr().is_terminal())
    }

    fn when(terminal: bool) -> Self {
        // https://no-color.org: any non-empty value turns colour off.
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            on: terminal && !no_color,
        }
    }

    fn style(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn colour(colour: AnsiColor) -> Style {
        Style::new().fg_color(Some(colour.into()))
    }

    /// An error's label.
    pub(crate) fn error(&self, text: &str) -> String {
        self.style(Self::colour(AnsiColor::Red).bold(), text)
    }

    /// A warning's label.
    pub(crate) fn warning(&self, text: &str) -> String {
        self.style(Self::colour(AnsiColor::Yellow).bold(), text)
    }

    /// Something that went well, or held.
    pub(crate) fn good(&self, text: &str) -> String {
        self.style(Self::colour(AnsiColor::Green), text)
    }

    /// A value or name to notice.
    pub(crate) fn strong(&self, text: &str) -> String {
        self.style(Style::new().bold(), text)
    }

    /// Secondary information.
    pub(crate) fn dim(&self, text: &str) -> String {
        self.style(Style::new().dimmed(), text)
    }

    /// Targeting, which depends on the user.
    pub(crate) fn targeted(&self, text: &str) -> String {
        self.style(Self::colour(AnsiColor::Cyan), text)
    }
}

/// A flag value as JSON: bools and numbers as such, strings and variants as strings.
pub(crate) fn json_value(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) | Value::Variant { name: s, .. } => s.to_string().into(),
    }
}

/// Prints a JSON document on standard output.
pub(crate) fn print_json(document: &serde_json::Value) {
    match serde_json::to_string_pretty(document) {
        Ok(text) => println!("{text}"),
        // Serialising a `serde_json::Value` cannot fail; say so rather than print nothing.
        Err(error) => eprintln!("error: cannot write JSON: {error}"),
    }
}

/// `text` as it may reach a terminal: text from `flags.toml` or the store (a value, a segment
/// key a webhook added, an actor's name) is shown, never obeyed. Control characters other
/// than newlines and tabs (an escape sequence, a bell, a carriage return) and the marks that
/// reorder text (bidirectional overrides) are written as `\u{1b}`.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// Pads `text` to `width` characters (of what is shown, not bytes).
pub(crate) fn pad(text: &str, shown: &str, width: usize) -> String {
    let fill = width.saturating_sub(shown.chars().count());
    format!("{text}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(
            printable("plain, with\ttabs\nand lines"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("a\u{1b}[2Jb\rc\u{7}"),
            "a\\u{1b}[2Jb\\u{d}c\\u{7}"
        );
        assert_eq!(printable("\u{202e}gpj.exe"), "\\u{202e}gpj.exe");
        assert_eq!(printable("é ü 中"), "é ü 中");
    }
}
