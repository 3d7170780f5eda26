//! Exact-span edits of a source file: replacements of byte ranges found from syn spans,
//! spliced into the text, so that everything outside them keeps its formatting and comments.

use std::ops::Range;

use proc_macro2::Span;
use syn::Expr;
use syn::spanned::Spanned;

/// The edits of one file, sorted and never overlapping, and the places left as they were
/// that still need a person.
#[derive(Debug)]
pub(crate) struct Edits<'t> {
    text: &'t str,
    /// Where the text syn parsed starts in `text` (after a byte order mark or a `#!` line).
    base: usize,
    edits: Vec<(Range<usize>, String)>,
    /// Values that could not be written as code (a variant of the retired enum); resolved
    /// when an edit around them takes them in.
    pending: Vec<(Range<usize>, String)>,
}

impl<'t> Edits<'t> {
    /// No edits yet of `text`, whose parsed part starts at `base`.
    pub(crate) fn new(text: &'t str, base: usize) -> Self {
        Self {
            text,
            base,
            edits: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The original text.
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// The byte range of a parsed node.
    pub(crate) fn range(&self, node: &impl Spanned) -> Range<usize> {
        self.span_range(node.span())
    }

    /// The byte range of an expression, as [`Edits::range`] gives it. The forms that nest
    /// along a chain (`a.b().c?`, `f(x)[i]`, `a && b`) are measured from their first and last
    /// tokens rather than printed back whole: a chain of n links would otherwise cost n²,
    /// since the rewrite measures every link.
    pub(crate) fn expr_range(&self, expr: &Expr) -> Range<usize> {
        let end = self.expr_end(expr);
        self.expr_start(expr).min(end)..end
    }

    fn expr_start(&self, mut expr: &Expr) -> usize {
        loop {
            // Down the leftmost part; an attribute comes before it.
            expr = match expr {
                Expr::MethodCall(e) if e.attrs.is_empty() => &e.receiver,
                Expr::Field(e) if e.attrs.is_empty() => &e.base,
                Expr::Try(e) if e.attrs.is_empty() => &e.expr,
                Expr::Await(e) if e.attrs.is_empty() => &e.base,
                Expr::Index(e) if e.attrs.is_empty() => &e.expr,
                Expr::Call(e) if e.attrs.is_empty() => &e.func,
                Expr::Cast(e) if e.attrs.is_empty() => &e.expr,
                Expr::Binary(e) if e.attrs.is_empty() => &e.left,
                _ => return self.range(expr).start,
            };
        }
    }

    fn expr_end(&self, expr: &Expr) -> usize {
        let last = match expr {
            Expr::MethodCall(e) => e.paren_token.span.close(),
            Expr::Field(e) => e.member.span(),
            Expr::Try(e) => e.question_token.spans[0],
            Expr::Await(e) => e.await_token.span,
            Expr::Index(e) => e.bracket_token.span.close(),
            Expr::Call(e) => e.paren_token.span.close(),
            Expr::Cast(e) => return self.range(&*e.ty).end,
            Expr::Binary(e) => return self.expr_end(&e.right),
            _ => return self.range(expr).end,
        };
        self.span_range(last).end
    }

    /// The byte range of a span.
    pub(crate) fn span_range(&self, span: Span) -> Range<usize> {
        let range = span.byte_range();
        let end = (self.base + range.end).min(self.text.len());
        (self.base + range.start).min(end)..end
    }

    /// Replaces `range` with `text`, taking in every edit inside it. An edit that overlaps
    /// it only in part (which a rewrite never asks for) refuses it: `false`.
    pub(crate) fn replace(&mut self, range: Range<usize>, text: impl Into<String>) -> bool {
        let inside = |r: &Range<usize>| range.start <= r.start && r.end <= range.end;
        let crosses = |r: &Range<usize>| !inside(r) && r.start < range.end && range.start < r.end;
        if self.edits.iter().any(|(r, _)| crosses(r)) {
            return false;
        }
        self.edits.retain(|(r, _)| !inside(r));
        self.pending.retain(|(r, _)| !inside(r));
        let at = self.edits.partition_point(|(r, _)| r.start < range.start);
        self.edits.insert(at, (range, text.into()));
        true
    }

    /// Removes `range` (see [`Edits::replace`]).
    pub(crate) fn remove(&mut self, range: Range<usize>) -> bool {
        self.replace(range, "")
    }

    /// Notes a place that could not be rewritten, unless an edit takes it in later.
    pub(crate) fn pending(&mut self, range: Range<usize>, why: String) {
        self.pending.push((range, why));
    }

    /// The places still pending: (byte offset, why).
    pub(crate) fn still_pending(&self) -> impl Iterator<Item = (usize, &str)> {
        self.pending.iter().map(|(r, why)| (r.start, why.as_str()))
    }

    /// The text of `range` with the edits inside it.
    pub(crate) fn render(&self, range: Range<usize>) -> String {
        let mut out = String::new();
        let mut at = range.start;
        for (r, text) in &self.edits {
            if r.start < range.start || r.end > range.end {
                continue;
            }
            out.push_str(&self.text[at..r.start]);
            out.push_str(text);
            at = r.end;
        }
        out.push_str(&self.text[at..range.end]);
        out
    }

    /// The whole text with every edit.
    pub(crate) fn apply(&self) -> String {
        self.render(0..self.text.len())
    }

    /// Whether anything was edited.
    pub(crate) fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The white space that starts the line `offset` is on.
    pub(crate) fn indent_at(&self, offset: usize) -> &'t str {
        let start = line_start(self.text, offset);
        let rest = &self.text[start..];
        &rest[..rest.len() - rest.trim_start_matches([' ', '\t']).len()]
    }

    /// `range` grown to whole lines when nothing else is on them, with the `//` comment
    /// lines right above it (they speak of it) and, when it leaves two blank lines
    /// together, one of them: what removing a statement or an item removes.
    pub(crate) fn whole_lines(&self, range: Range<usize>) -> Range<usize> {
        self.lines_of(range, true)
    }

    /// An attribute's lines, like [`Edits::whole_lines`] but without the comments above,
    /// which speak of the item.
    pub(crate) fn attribute_lines(&self, range: Range<usize>) -> Range<usize> {
        self.lines_of(range, false)
    }

    fn lines_of(&self, range: Range<usize>, comments: bool) -> Range<usize> {
        let text = self.text;
        let start = line_start(text, range.start);
        if !text[start..range.start].trim().is_empty() {
            return range.start..skip_blanks(text, range.end);
        }
        let end = skip_blanks(text, range.end);
        let end = if text[end..].starts_with('\n') {
            end + 1
        } else if text[end..].starts_with("\r\n") {
            end + 2
        } else if end < text.len() {
            // Code follows on the same line: keep the line break and indentation.
            return start.max(range.start)..end;
        } else {
            end
        };
        let mut start = start;
        while comments && start > 0 {
            let above = line_start(text, start - 1);
            let line = text[above..start].trim();
            if line.starts_with("//") && !line.starts_with("///") && !line.starts_with("//!") {
                start = above;
            } else {
                break;
            }
        }
        let blank_above = start > 0 && text[line_start(text, start - 1)..start].trim().is_empty();
        let next_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        let next = text[end..next_end].trim();
        if blank_above && (next.is_empty() || next.starts_with('}')) && start > 0 {
            // Two blank lines would meet, or a blank line would end the block.
            return line_start(text, start - 1)..end;
        }
        let line_above = if start > 0 {
            text[line_start(text, start - 1)..start].trim_end()
        } else {
            ""
        };
        if next.is_empty() && next_end > end && (start == 0 || line_above.ends_with('{')) {
            return start..next_end;
        }
        start..end
    }

    /// The statements of a block, without its braces, indented like the line of `at` (the
    /// code they replace starts there, after its indentation). Blocks that hold a string
    /// over several lines keep their indentation, which is part of the string.
    pub(crate) fn block_contents(&self, block: &syn::Block, at: usize) -> String {
        let open = self.span_range(block.brace_token.span.open()).end;
        let close = self.span_range(block.brace_token.span.close()).start;
        let inner = self.render(open..close.max(open));
        let trimmed = inner.trim_matches(|c: char| c.is_whitespace());
        if trimmed.is_empty() {
            return String::new();
        }
        if has_multiline_literal(&self.text[open..close.max(open)]) || !trimmed.contains('\n') {
            return trimmed.to_owned();
        }
        let first_line = open + inner.len() - inner.trim_start().len();
        let inner_indent = self.indent_at(first_line.min(self.text.len()));
        reindent(trimmed, inner_indent, self.indent_at(at))
    }
}

/// `text` whose lines after the first start with `from`, with `to` instead.
pub(crate) fn reindent(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
            if line.trim().is_empty() {
                continue;
            }
            match line.strip_prefix(from) {
                Some(rest) => {
                    out.push_str(to);
                    out.push_str(rest);
                }
                None => out.push_str(line),
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The offset where the line of `offset` starts.
pub(crate) fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// `offset` moved past spaces and tabs.
fn skip_blanks(text: &str, offset: usize) -> usize {
    let rest = &text[offset.min(text.len())..];
    offset + (rest.len() - rest.trim_start_matches([' ', '\t']).len())
}

/// Whether a string or other literal in `code` spans lines: moving it would change it.
fn has_multiline_literal(code: &str) -> bool {
    fn walk(tokens: proc_macro2::TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Group(group) => walk(group.stream()),
            proc_macro2::TokenTree::Literal(literal) => {
                let span = literal.span();
                span.start().line != span.end().line
            }
            _ => false,
        })
    }
    // Code that does not lex is left as it is.
    code.parse().map_or(true, walk)
}

/// Where the text `syn::parse_file` parses starts: after a byte order mark and a `#!` line,
/// which it leaves out.
pub(crate) fn parsed_start(text: &str) -> usize {
    let mut base = 0;
    if text.starts_with('\u{feff}') {
        base = '\u{feff}'.len_utf8();
    }
    let rest = &text[base..];
    if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
        base += rest.find('\n').unwrap_or(rest.len());
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expression_measured_by_its_ends_has_the_range_of_its_tokens() {
        struct Every<'e, 't> {
            edits: &'e Edits<'t>,
            checked: usize,
        }
        impl<'ast> syn::visit::Visit<'ast> for Every<'_, '_> {
            fn visit_expr(&mut self, expr: &'ast Expr) {
                assert_eq!(
                    self.edits.expr_range(expr),
                    self.edits.range(expr),
                    "{}",
                    self.edits.render(self.edits.range(expr))
                );
                self.checked += 1;
                syn::visit::visit_expr(self, expr);
            }
        }
        let text = "fn f() {\n    let a = Flags::x().y(1, 2).z?.w[3] as u8;\n    \
                    let b = #[allow(unused)] g(h).0 .await + k.m() && !n.p(q) || (r)(s)[t];\n    \
                    let c = (u.v)().w::<T>(x, |y| y.z) as Box<dyn Fn()>;\n}\n";
        let file = syn::parse_file(text).expect("valid Rust");
        let edits = Edits::new(text, 0);
        let mut every = Every {
            edits: &edits,
            checked: 0,
        };
        syn::visit::Visit::visit_file(&mut every, &file);
        assert!(every.checked > 30, "{}", every.checked);
    }

    #[test]
    fn edits_splice_and_take_in_the_edits_inside_them() {
        let text = "fn f() { a(); b(); }";
        let mut edits = Edits::new(text, 0);
        assert!(edits.replace(9..12, "x()"));
        assert!(edits.replace(14..17, "y()"));
        assert_eq!(edits.apply(), "fn f() { x(); y(); }");
        assert_eq!(edits.render(7..20), "{ x(); y(); }");
        assert!(!edits.replace(10..15, "z"), "crosses an edit");
        assert!(edits.replace(7..20, "{}"));
        assert_eq!(edits.apply(), "fn f() {}");
    }

    #[test]
    fn removed_lines_take_their_comments_and_no_double_blank_line() {
        let text = "fn f() {\n    a();\n\n    // about b\n    b();\n\n    c();\n}\n";
        let edits = Edits::new(text, 0);
        let b = text.find("b();").expect("b");
        let range = edits.whole_lines(b..b + 4);
        let mut out = text.to_owned();
        out.replace_range(range, "");
        assert_eq!(out, "fn f() {\n    a();\n\n    c();\n}\n");
        let a = text.find("a();").expect("a");
        let mut out = text.to_owned();
        out.replace_range(edits.whole_lines(a..a + 4), "");
        assert_eq!(out, "fn f() {\n    // about b\n    b();\n\n    c();\n}\n");
        // Not alone on its line: only the code and the blanks after it.
        let text = "let x = 1; let y = 2;\n";
        let edits = Edits::new(text, 0);
        assert_eq!(edits.whole_lines(0..10), 0..11);
    }

    #[test]
    fn reindent_moves_lines_after_the_first() {
        assert_eq!(
            reindent("a();\n        b();\n\n        c();", "        ", "    "),
            "a();\n    b();\n\n    c();"
        );
    }

    #[test]
    fn the_parsed_text_starts_after_a_shebang() {
        assert_eq!(parsed_start("#!/usr/bin/env run\nfn main() {}"), 18);
        assert_eq!(parsed_start("#![allow(x)]\nfn main() {}"), 0);
        assert_eq!(parsed_start("fn main() {}"), 0);
    }
}
