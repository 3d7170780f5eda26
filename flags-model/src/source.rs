//! The text of a file being read, and positions in it.

/// A file's display name and text, so positions can be shown as `name:line:column`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    name: String,
    text: String,
    /// The byte offset where each line starts: a location is then a binary search, not a
    /// count of the newlines before it (which made large files quadratic to read).
    line_starts: Vec<usize>,
}

/// A one-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

impl SourceFile {
    /// A file named `name` (shown in messages as given) holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The name shown in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line and column of a byte offset (clamped to the text).
    pub fn location(&self, offset: usize) -> Location {
        let offset = self.floor_boundary(offset);
        // The number of lines starting at or before `offset` is the one-based line.
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        Location {
            line,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }

    /// The text of a one-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        let text = &self.text[start..end];
        text.strip_suffix('\r').unwrap_or(text)
    }

    /// `offset` clamped to the text and moved back to a character boundary.
    pub(crate) fn floor_boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_count_characters() {
        let file = SourceFile::new("f.toml", "a = 1\nbé = \"x\"\r\nc = 2");
        assert_eq!(file.location(0), Location { line: 1, column: 1 });
        let x = file.text().find('"').unwrap();
        assert_eq!(file.location(x), Location { line: 2, column: 6 });
        assert_eq!(file.line_text(2), "bé = \"x\"");
        assert_eq!(file.location(10_000), Location { line: 3, column: 6 });
        assert_eq!(file.line_text(1), "a = 1");
        assert_eq!(file.line_text(3), "c = 2");
        assert_eq!(file.line_text(4), "");
        let newline = file.text().find('\n').unwrap();
        assert_eq!(file.location(newline), Location { line: 1, column: 6 });
        assert_eq!(file.location(newline + 1), Location { line: 2, column: 1 });
    }
}
