//! "Every error is located within its input": checks of spans and of the `--> file:line:column`
//! lines of rendered messages.

use std::ops::Range;

use flags_model::{Diagnostic, SourceFile};

use crate::guard::Violation;

/// A diagnostic's span lies within `text`: `start <= end <= len`, both on character
/// boundaries.
pub fn check_span(diagnostic: &Diagnostic, text: &str) -> Result<(), Violation> {
    let Some(Range { start, end }) = diagnostic.span() else {
        return Ok(());
    };
    let fits = start <= end
        && end <= text.len()
        && text.is_char_boundary(start)
        && text.is_char_boundary(end);
    if fits {
        Ok(())
    } else {
        Err(Violation::invariant(format!(
            "span {start}..{end} of `{}` is not within the text ({} bytes)",
            diagnostic.message(),
            text.len()
        )))
    }
}

/// A `--> name:line:column` found in a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    /// The file's name as shown.
    pub name: &'a str,
    /// The one-based line.
    pub line: usize,
    /// The one-based column, in characters.
    pub column: usize,
}

/// Every `--> name:line:column` line of `output`.
pub fn locations(output: &str) -> Vec<Location<'_>> {
    output
        .split('\n')
        .filter_map(|line| {
            let rest = line.trim_start_matches(' ').strip_prefix("--> ")?;
            let mut parts = rest.rsplitn(3, ':');
            let column = parts.next()?.trim_end_matches('\r').parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            let name = parts.next()?;
            Some(Location { name, line, column })
        })
        .collect()
}

/// How far a location may reach in a text.
#[derive(Clone, Copy, Debug)]
pub struct Extent {
    lines: usize,
}

/// The lines of `text` as [`SourceFile`] counts them (split at `\n`), with their ending `\r`.
fn raw_line(text: &str, line: usize) -> Option<&str> {
    text.split('\n').nth(line.checked_sub(1)?)
}

/// Checks that `location` exists in `text`: the line is one of its lines, and the column at
/// most one past that line's last character.
pub fn check_location(location: &Location<'_>, text: &str) -> Result<(), Violation> {
    let Some(line) = raw_line(text, location.line) else {
        return Err(Violation::invariant(format!(
            "location {}:{}:{} names a line the text ({} lines) does not have",
            location.name,
            location.line,
            location.column,
            Extent::of(text).lines
        )));
    };
    let width = line.chars().count();
    if location.column == 0 || location.column > width + 1 {
        return Err(Violation::invariant(format!(
            "location {}:{}:{} is past the end of its line ({width} characters)",
            location.name, location.line, location.column
        )));
    }
    Ok(())
}

impl Extent {
    /// The extent of `text`.
    pub fn of(text: &str) -> Self {
        Extent {
            lines: text.matches('\n').count() + 1,
        }
    }

    /// The number of lines.
    pub fn lines(self) -> usize {
        self.lines
    }
}

/// A rendered diagnostic names `file` and a place that exists in it.
pub fn check_rendered(rendered: &str, file: &SourceFile) -> Result<(), Violation> {
    let found = locations(rendered);
    let Some(first) = found.first() else {
        return Err(Violation::invariant(format!(
            "a rendered diagnostic has no `--> {}:line:column`: {rendered:?}",
            file.name()
        )));
    };
    if first.name != file.name() {
        return Err(Violation::invariant(format!(
            "a rendered diagnostic names {:?}, not {:?}",
            first.name,
            file.name()
        )));
    }
    check_location(first, file.text())
}

/// Checks every location of `output` that names one of `files` (name, text); a location that
/// names no file of `files` is reported when `strict`.
pub fn check_all(output: &str, files: &[(&str, &str)], strict: bool) -> Result<(), Violation> {
    for location in locations(output) {
        match files.iter().find(|(name, _)| *name == location.name) {
            Some((_, text)) => check_location(&location, text)?,
            None if strict => {
                return Err(Violation::invariant(format!(
                    "a message locates a problem in {:?}, which is none of the inputs ({})",
                    location.name,
                    files
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_read_from_rendered_messages() {
        let file = SourceFile::new("a:b.toml", "x = 1\r\ny = \"é\"\n");
        let rendered = Diagnostic::new("bad", 11..14).render(&file);
        let found = locations(&rendered);
        assert_eq!(
            found,
            vec![Location {
                name: "a:b.toml",
                line: 2,
                column: 5
            }]
        );
        check_rendered(&rendered, &file).expect("located");
        let past = Location {
            name: "a:b.toml",
            line: 4,
            column: 1,
        };
        assert!(check_location(&past, file.text()).is_err());
        let wide = Location {
            name: "a:b.toml",
            line: 1,
            column: 8,
        };
        assert!(check_location(&wide, file.text()).is_err());
    }
}
