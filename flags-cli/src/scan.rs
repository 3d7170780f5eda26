//! Finding flags in a crate's Rust sources: accessors, stubs, gates, runtime calls by name,
//! and the code that runs only while a flag is on, as far as it can be seen without compiling.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use flags_model::{Catalog, Flag, SourceFile, naming};
use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{
    Attribute, BinOp, Expr, ExprCall, ExprIf, ExprMethodCall, ExprPath, Ident, ImplItemFn, ItemFn,
    ItemImpl, ItemMod, Lit, LitStr, Macro, MetaNameValue, Token, TraitItemFn, UnOp,
};

/// The directories of a crate that hold Rust sources, relative to its root.
pub(crate) const SOURCE_DIRS: [&str; 4] = ["src", "examples", "tests", "benches"];

/// Directories whose code is test code.
const TEST_DIRS: [&str; 2] = ["tests", "benches"];

/// The type `declare!` generates unless told otherwise.
const DEFAULT_TYPE: &str = "Flags";

/// Runtime methods that take a flag's name as their first argument.
const RUNTIME_METHODS: [&str; 4] = ["explain", "trace", "set_override", "clear_override"];

/// How the name of a bool flag's marker type ends: `ProductTasks103CommentsFeature`.
const MARKER_SUFFIX: &str = "Feature";

/// A place in a scanned file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct At {
    /// Index of the file in [`Scan::files`].
    pub(crate) file: usize,
    /// Line, from 1.
    pub(crate) line: usize,
    /// Column in characters, from 0.
    pub(crate) column: usize,
    /// Width in characters (at least 1).
    pub(crate) width: usize,
}

/// How code names a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `Flags::x()`, `Flags::x_for(..)`, `Flags::x_details(..)`, or `Flags::x` as a value.
    Accessor,
    /// `Flags::stub().x(..)`.
    Stub,
    /// `Flags::each(FlagsStub::x)`, `Flags::each_of(FlagsStub::x, ..)`.
    Each,
    /// `Flags::snapshot().x()`.
    Snapshot,
    /// `#[feature_gate("x")]`.
    Gate,
    /// `#[stub(x = ..)]`.
    StubAttribute,
    /// `Flags::runtime().explain("x", ..)` and the other runtime methods taking a name.
    Runtime,
    /// The marker type of a bool flag: `FeatureGate::new::<XFeature>()`, `Enabled<XFeature>`.
    Marker,
}

impl Syntax {
    /// A short name for the kind of reference, for listings and JSON.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Syntax::Accessor => "accessor",
            Syntax::Stub => "stub",
            Syntax::Each => "each",
            Syntax::Snapshot => "snapshot",
            Syntax::Gate => "feature_gate",
            Syntax::StubAttribute => "stub attribute",
            Syntax::Runtime => "runtime call",
            Syntax::Marker => "marker type",
        }
    }
}

/// A flag named in code.
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    /// The name as written: an accessor (`x`, `x_for`) or, in strings, a key.
    pub(crate) name: String,
    /// The reference as written, for messages: `Flags::x`, `#[feature_gate("x")]`.
    pub(crate) shown: String,
    /// How it is named.
    pub(crate) syntax: Syntax,
    /// Where.
    pub(crate) at: At,
}

/// A `#[feature_gate]` fn.
#[derive(Clone, Debug)]
pub(crate) struct GatedFn {
    /// The fn's name.
    pub(crate) name: String,
    /// The flag as written in the attribute.
    pub(crate) flag: String,
    /// The fn's name in its signature.
    pub(crate) at: At,
}

/// A call of a fn or method by name, with the flags whose code path it is in.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// The fn or method called.
    pub(crate) callee: String,
    /// Where.
    pub(crate) at: At,
    /// Flags (as written) that must be on for this code to run: the gate of the enclosing fn,
    /// and every enclosing `if Flags::x() { .. }`.
    pub(crate) inside: Vec<String>,
    /// Whether it is test code (tests/, benches/, `#[test]`, `#[cfg(test)]`).
    pub(crate) in_test: bool,
}

/// A file that could not be read or parsed: its references are not known.
#[derive(Debug)]
pub(crate) struct Unreadable {
    /// The file, as shown.
    pub(crate) path: String,
    /// Where it stopped making sense, when known: line and column (from 0).
    pub(crate) position: Option<(usize, usize)>,
    /// The text of the file, when it could be read.
    pub(crate) text: Option<String>,
    /// What went wrong.
    pub(crate) message: String,
}

/// Everything found in a crate's sources.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The files read, in path order: the path as shown, and the text.
    pub(crate) files: Vec<SourceFile>,
    /// The path of each of [`Scan::files`].
    pub(crate) paths: Vec<PathBuf>,
    /// Every reference to a flag.
    pub(crate) references: Vec<Reference>,
    /// Every gated fn.
    pub(crate) gated_fns: Vec<GatedFn>,
    /// Every call by name.
    pub(crate) calls: Vec<Call>,
    /// Files that could not be read or parsed.
    pub(crate) unreadable: Vec<Unreadable>,
    /// Files left out because they declare the flags of another flags.toml: (path, that file).
    pub(crate) other_catalogs: Vec<(String, String)>,
    /// The names of the generated type: `Flags`, and those `declare!(.., name = ..)` gives.
    pub(crate) types: BTreeSet<String>,
}

impl Scan {
    /// The file an [`At`] is in.
    pub(crate) fn file(&self, at: At) -> &SourceFile {
        &self.files[at.file]
    }

    /// The byte range of an [`At`] in its file.
    pub(crate) fn span(&self, at: At) -> Range<usize> {
        let text = self.file(at).text();
        let start = byte_offset(text, at.line, at.column);
        let end = byte_offset(text, at.line, at.column + at.width.max(1));
        start..end.max(start)
    }

    /// `src/main.rs:12:8`.
    pub(crate) fn location(&self, at: At) -> String {
        format!("{}:{}:{}", self.file(at).name(), at.line, at.column + 1)
    }

    /// The line of code at `at`, trimmed.
    pub(crate) fn line_text(&self, at: At) -> &str {
        self.file(at).line_text(at.line).trim()
    }
}

impl Reference {
    /// The flag this names.
    pub(crate) fn resolve<'c>(&self, catalog: &'c Catalog) -> Option<(usize, &'c Flag)> {
        match self.syntax {
            Syntax::Marker => find_by_marker(catalog, &self.name),
            syntax => resolve(catalog, &self.name, syntax == Syntax::Accessor),
        }
    }

    /// The flag's name as the reference means it: an accessor without `_for` or `_details`,
    /// a marker type with its `Feature`.
    pub(crate) fn flag_name(&self) -> &str {
        match self.syntax {
            Syntax::Accessor => strip_method_suffix(&self.name).unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// Whether this names the flag that `name` spells, however it is spelt (key, accessor or
    /// marker type), ignoring case and separators: for a flag that flags.toml no longer
    /// declares, whose spellings cannot be looked up.
    pub(crate) fn spells(&self, name: &str) -> bool {
        let ours = match self.syntax {
            Syntax::Marker => self.name.strip_suffix(MARKER_SUFFIX).unwrap_or(&self.name),
            _ => self.flag_name(),
        };
        let given = [
            Some(name),
            name.strip_suffix(MARKER_SUFFIX),
            strip_method_suffix(name),
        ];
        let ours = canonical(ours);
        given.into_iter().flatten().any(|g| canonical(g) == ours)
    }
}

/// A name lowercased, without its separators: `product-TASKS-103-comments`,
/// `product_tasks_103_comments` and `ProductTasks103Comments` are one.
fn canonical(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The marker type `declare!` generates for a bool flag: `ProductTasks103CommentsFeature`.
pub(crate) fn marker_name(flag: &Flag) -> Option<String> {
    if *flag.flag_type() != flags_model::FlagType::Bool {
        return None;
    }
    let name = naming::type_name(flag.key()).ok()?;
    Some(format!("{name}{MARKER_SUFFIX}"))
}

/// The bool flag whose marker type is `name`.
fn find_by_marker<'c>(catalog: &'c Catalog, name: &str) -> Option<(usize, &'c Flag)> {
    catalog
        .flags()
        .iter()
        .enumerate()
        .find(|(_, flag)| marker_name(flag).as_deref() == Some(name))
}

/// The flag `name` spells: its key, its accessor (also with `_for` or `_details`) or its
/// marker type.
pub(crate) fn find_any<'c>(catalog: &'c Catalog, name: &str) -> Option<(usize, &'c Flag)> {
    resolve(catalog, name, true).or_else(|| find_by_marker(catalog, name))
}

/// The flag `name` (key or accessor) means; with `accessor`, `x_for` and `x_details` mean `x`.
pub(crate) fn resolve<'c>(
    catalog: &'c Catalog,
    name: &str,
    accessor: bool,
) -> Option<(usize, &'c Flag)> {
    catalog.find(name).or_else(|| {
        strip_method_suffix(name)
            .filter(|_| accessor)
            .and_then(|stripped| catalog.find(stripped))
    })
}

fn strip_method_suffix(name: &str) -> Option<&str> {
    naming::ACCESSOR_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
}

/// Reads the Rust sources of the crate in `dir` whose flags are in `flags_toml`: src/,
/// examples/, tests/ and benches/, except target/, hidden directories and nested crates.
pub(crate) fn scan(dir: &Path, flags_toml: &Path) -> Scan {
    let mut scan = Scan::default();
    let mut paths = Vec::new();
    for sub in SOURCE_DIRS {
        let root = dir.join(sub);
        // `benches/` may be a crate of its own (a workspace member), as any directory below.
        if root.is_dir() && !has_own_flags(&root) {
            rust_files(&root, &mut paths, &mut scan);
        }
    }
    let mut sources = Vec::new();
    for path in paths {
        match flags_model::file::read_text(&path) {
            Ok(text) => sources.push((path, text)),
            Err(error) => scan.unreadable.push(Unreadable {
                path: shown(&path),
                position: None,
                text: None,
                message: error.to_string(),
            }),
        }
    }
    scan_sources(scan, dir, flags_toml, sources)
}

/// A path as shown in messages: without a leading `./`.
fn shown(path: &Path) -> String {
    let path = path.strip_prefix(".").unwrap_or(path);
    path.display().to_string()
}

/// How deep brackets may nest in a source file that is parsed. The parser and the visitors
/// recurse on each level, and a file nested thousands deep would overflow the stack; code
/// people write stays far below this.
pub(crate) const MAX_NESTING: usize = 128;

/// `text` parsed as a Rust file, as `syn::parse_file` parses it, unless its brackets nest
/// deeper than [`MAX_NESTING`]: every parse of a source goes through here.
pub(crate) fn parse_file(text: &str) -> syn::Result<syn::File> {
    // A text that does not lex fails in `syn::parse_file` the same way, before any recursion.
    let lexed = &text[crate::rewrite_text::parsed_start(text)..];
    if let Ok(tokens) = lexed.parse::<TokenStream>() {
        if let Some(span) = nested_too_deep(tokens) {
            return Err(syn::Error::new(
                span,
                format!("brackets nest more than {MAX_NESTING} deep"),
            ));
        }
    }
    syn::parse_file(text)
}

/// The first group of `tokens` nested deeper than [`MAX_NESTING`], found without recursion.
pub(crate) fn nested_too_deep(tokens: TokenStream) -> Option<Span> {
    let mut open = vec![tokens.into_iter()];
    while let Some(level) = open.last_mut() {
        match level.next() {
            Some(TokenTree::Group(group)) => {
                if open.len() >= MAX_NESTING {
                    return Some(group.span_open());
                }
                open.push(group.stream().into_iter());
            }
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
    None
}

/// Scans sources already read, `(path, text)` in path order: those [`scan`] read, or the
/// text a rewrite would give them.
pub(crate) fn scan_sources(
    mut scan: Scan,
    dir: &Path,
    flags_toml: &Path,
    sources: Vec<(PathBuf, String)>,
) -> Scan {
    let ours = std::fs::canonicalize(flags_toml).ok();
    let mut parsed = Vec::new();
    let mut types = BTreeSet::from([DEFAULT_TYPE.to_owned()]);
    for (path, text) in sources {
        let name = shown(&path);
        let file = match parse_file(&text) {
            Ok(file) => file,
            Err(error) => {
                let start = error.span().start();
                scan.unreadable.push(Unreadable {
                    path: name,
                    position: Some((start.line, start.column)),
                    text: Some(text),
                    message: format!("cannot be parsed: {error}"),
                });
                continue;
            }
        };
        let mut declares = Declares::default();
        declares.visit_file(&file);
        let is_ours = |declared: &Option<String>| match declared {
            // `declare!()` reads the flags.toml next to Cargo.toml: this crate's.
            None => true,
            Some(path) => ours.is_some() && std::fs::canonicalize(dir.join(path)).ok() == ours,
        };
        if !declares.0.is_empty() && !declares.0.iter().any(|(path, _)| is_ours(path)) {
            let other = declares.0[0].0.clone().unwrap_or_default();
            scan.other_catalogs.push((name, other));
            continue;
        }
        for (path, type_name) in &declares.0 {
            if let (true, Some(type_name)) = (is_ours(path), type_name) {
                types.insert(type_name.clone());
            }
        }
        let test = path
            .strip_prefix(dir)
            .ok()
            .and_then(|relative| relative.components().next())
            .is_some_and(|first| TEST_DIRS.iter().any(|t| first.as_os_str() == *t));
        scan.files.push(SourceFile::new(name, text));
        scan.paths.push(path);
        parsed.push((scan.files.len() - 1, file, test));
    }
    for (index, file, test) in &parsed {
        let mut visitor = Visitor {
            scan: &mut scan,
            types: &types,
            file: *index,
            gates: Vec::new(),
            tests: usize::from(*test),
        };
        visitor.visit_file(file);
    }
    // The walk meets a chain's last method first; list references in reading order.
    scan.references
        .sort_by_key(|r| (r.at.file, r.at.line, r.at.column));
    scan.types = types;
    scan
}

/// Every `.rs` file below `dir`, in path order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>, scan: &mut Scan) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            scan.unreadable.push(Unreadable {
                path: dir.display().to_string(),
                position: None,
                text: None,
                message: format!("cannot be listed: {error}"),
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            // Build output and hidden directories are not sources.
            if name != "target"
                && !name.starts_with('.')
                && !has_own_flags(&path)
                && !path.is_symlink()
            {
                rust_files(&path, out, scan);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Whether `dir` is a nested crate (or holds a `flags.toml`): its `declare!()` reads its own
/// flags.
fn has_own_flags(dir: &Path) -> bool {
    dir.join("Cargo.toml").exists() || dir.join("flags.toml").exists()
}

/// The byte offset of a line (from 1) and column (characters, from 0), clamped to the line.
pub(crate) fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let line_text = rest.split('\n').next().unwrap_or("");
    line_start
        + line_text
            .char_indices()
            .nth(column)
            .map_or(line_text.len(), |(i, _)| i)
}

/// The `declare!` invocations of a file: (path, type name), each when given.
#[derive(Default)]
struct Declares(Vec<(Option<String>, Option<String>)>);

impl<'ast> Visit<'ast> for Declares {
    fn visit_macro(&mut self, mac: &'ast Macro) {
        if last_segment(&mac.path).as_deref() != Some("declare") {
            return;
        }
        let parsed = mac.parse_body_with(|input: ParseStream<'_>| {
            let path = if input.peek(LitStr) {
                Some(input.parse::<LitStr>()?.value())
            } else {
                None
            };
            let mut name = None;
            while !input.is_empty() {
                if let TokenTree::Ident(ident) = input.parse::<TokenTree>()? {
                    if ident == "name" && input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        name = Some(input.parse::<Ident>()?.to_string());
                    }
                }
            }
            Ok((path, name))
        });
        if let Ok(declare) = parsed {
            self.0.push(declare);
        }
    }
}

/// Walks one file, recording references, gated fns and calls.
struct Visitor<'s> {
    scan: &'s mut Scan,
    /// Names of the generated type (`Flags`, or as `declare!(name = ..)` says).
    types: &'s BTreeSet<String>,
    file: usize,
    /// Flags whose code path the walk is in.
    gates: Vec<String>,
    /// How many enclosing items are test code (with the file itself).
    tests: usize,
}

impl Visitor<'_> {
    fn at(&self, span: Span) -> At {
        let (start, end) = (span.start(), span.end());
        let width = if end.line == start.line {
            end.column.saturating_sub(start.column)
        } else {
            1
        };
        At {
            file: self.file,
            line: start.line,
            column: start.column,
            width: width.max(1),
        }
    }

    fn reference(&mut self, name: String, shown: String, syntax: Syntax, span: Span) {
        let at = self.at(span);
        self.scan.references.push(Reference {
            name,
            shown,
            syntax,
            at,
        });
    }

    fn flags_member<'p>(&self, path: &'p syn::Path) -> Option<&'p Ident> {
        flags_member(self.types, path)
    }

    fn is_flags_call(&self, expr: &Expr, method: &str) -> bool {
        is_flags_call(self.types, expr, method)
    }

    /// What a method call on `receiver` reaches: a stub or snapshot builder.
    fn builder(&self, receiver: &Expr) -> Option<Syntax> {
        if self.is_flags_call(receiver, "snapshot") {
            return Some(Syntax::Snapshot);
        }
        // Stub methods return the stub, so they chain: `Flags::stub().a(true).b(false)`.
        let mut expr = strip_parens(receiver);
        while let Expr::MethodCall(inner) = expr {
            expr = strip_parens(&inner.receiver);
        }
        self.is_flags_call(expr, "stub").then_some(Syntax::Stub)
    }

    /// The flags that are on when `condition` holds: `Flags::a()`, `Flags::a_for(&u)`, and
    /// conjunctions of them.
    fn flags_on(&self, condition: &Expr) -> Vec<String> {
        match strip_parens(condition) {
            Expr::Call(call) => match &*call.func {
                Expr::Path(path) => self
                    .flags_member(&path.path)
                    .map(|member| vec![member.unraw().to_string()])
                    .unwrap_or_default(),
                _ => Vec::new(),
            },
            Expr::Binary(binary) if matches!(binary.op, BinOp::And(_)) => {
                let mut on = self.flags_on(&binary.left);
                on.extend(self.flags_on(&binary.right));
                on
            }
            _ => Vec::new(),
        }
    }

    /// The flags that are on when `condition` does not hold: `!Flags::a()`.
    fn flags_off(&self, condition: &Expr) -> Vec<String> {
        match strip_parens(condition) {
            Expr::Unary(unary) if matches!(unary.op, UnOp::Not(_)) => self.flags_on(&unary.expr),
            _ => Vec::new(),
        }
    }

    /// `#[feature_gate("x", ..)]` among `attrs`: the flag and the literal.
    fn gate(attrs: &[Attribute]) -> Option<LitStr> {
        attrs
            .iter()
            .filter(|attr| last_segment(attr.path()).as_deref() == Some("feature_gate"))
            .find_map(|attr| {
                attr.parse_args_with(|input: ParseStream<'_>| {
                    let name: LitStr = input.parse()?;
                    input.parse::<TokenStream>()?;
                    Ok(name)
                })
                .ok()
            })
    }

    /// Walks a fn: its gate (if any) replaces the enclosing code path, since a fn runs
    /// wherever it is called from, not where it is written.
    fn walk_fn(&mut self, attrs: &[Attribute], ident: &Ident, walk: impl FnOnce(&mut Self)) {
        let gate = Self::gate(attrs).map(|name| name.value());
        if let Some(flag) = &gate {
            let at = self.at(ident.span());
            self.scan.gated_fns.push(GatedFn {
                name: ident.unraw().to_string(),
                flag: flag.clone(),
                at,
            });
        }
        let outer = std::mem::replace(&mut self.gates, gate.into_iter().collect());
        self.in_item(attrs, walk);
        self.gates = outer;
    }

    /// Walks an item, as test code when its attributes say so.
    fn in_item(&mut self, attrs: &[Attribute], walk: impl FnOnce(&mut Self)) {
        let test = usize::from(attrs.iter().any(is_test_attribute));
        self.tests += test;
        walk(self);
        self.tests -= test;
    }

    fn call(&mut self, callee: &Ident, span: Span) {
        let at = self.at(span);
        self.scan.calls.push(Call {
            callee: callee.unraw().to_string(),
            at,
            inside: self.gates.clone(),
            in_test: self.tests > 0,
        });
    }

    /// Finds `Flags::x` in tokens that are not Rust expressions (macro bodies).
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (index, token) in tokens.iter().enumerate() {
            match (token, tokens.get(index + 1..index + 4)) {
                (TokenTree::Group(group), _) => self.scan_tokens(group.stream()),
                (
                    TokenTree::Ident(owner),
                    Some(
                        [
                            TokenTree::Punct(a),
                            TokenTree::Punct(b),
                            TokenTree::Ident(member),
                        ],
                    ),
                ) if a.as_char() == ':'
                    && b.as_char() == ':'
                    && self.types.contains(&owner.to_string()) =>
                {
                    self.accessor(owner, member);
                }
                _ => {}
            }
        }
    }

    /// `FeatureGate::new::<XFeature>` and `Enabled<XFeature>`: the marker type named.
    fn markers(&mut self, path: &syn::Path) {
        let segments: Vec<_> = path.segments.iter().collect();
        for (index, segment) in segments.iter().enumerate() {
            let gate =
                segment.ident == "new" && index > 0 && segments[index - 1].ident == "FeatureGate";
            if !(gate || segment.ident == "Enabled") {
                continue;
            }
            let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
                continue;
            };
            let Some(syn::GenericArgument::Type(syn::Type::Path(marker))) = arguments.args.first()
            else {
                continue;
            };
            let Some(last) = marker.path.segments.last() else {
                continue;
            };
            let name = last.ident.unraw().to_string();
            // A generic parameter (`Enabled<F>`) names no flag.
            if name.len() > MARKER_SUFFIX.len() && name.ends_with(MARKER_SUFFIX) {
                let shown = if gate {
                    format!("FeatureGate::new::<{name}>")
                } else {
                    format!("Enabled<{name}>")
                };
                self.reference(name, shown, Syntax::Marker, last.ident.span());
            }
        }
    }

    /// `Flags::member`, unless it is one of the generated type's own methods.
    fn accessor(&mut self, owner: &Ident, member: &Ident) {
        let name = member.unraw().to_string();
        if naming::RESERVED_ACCESSORS.contains(&name.as_str()) || name.starts_with("__") {
            return;
        }
        let shown = format!("{owner}::{name}");
        self.reference(name, shown, Syntax::Accessor, member.span());
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_fn(&mut self, item: &'ast ItemFn) {
        self.walk_fn(&item.attrs, &item.sig.ident, |v| {
            visit::visit_item_fn(v, item)
        });
    }

    fn visit_impl_item_fn(&mut self, item: &'ast ImplItemFn) {
        self.walk_fn(&item.attrs, &item.sig.ident, |v| {
            visit::visit_impl_item_fn(v, item)
        });
    }

    fn visit_trait_item_fn(&mut self, item: &'ast TraitItemFn) {
        self.walk_fn(&item.attrs, &item.sig.ident, |v| {
            visit::visit_trait_item_fn(v, item)
        });
    }

    fn visit_item_mod(&mut self, item: &'ast ItemMod) {
        self.in_item(&item.attrs, |v| visit::visit_item_mod(v, item));
    }

    fn visit_item_impl(&mut self, item: &'ast ItemImpl) {
        self.in_item(&item.attrs, |v| visit::visit_item_impl(v, item));
    }

    fn visit_attribute(&mut self, attr: &'ast Attribute) {
        match last_segment(attr.path()).as_deref() {
            Some("feature_gate") => {
                if let Some(name) = Self::gate(std::slice::from_ref(attr)) {
                    let shown = format!("#[feature_gate({:?})]", name.value());
                    self.reference(name.value(), shown, Syntax::Gate, name.span());
                }
            }
            Some("stub") => {
                let stubs =
                    attr.parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated);
                for stub in stubs.into_iter().flatten() {
                    let Some(ident) = stub.path.get_ident() else {
                        continue;
                    };
                    let name = ident.unraw().to_string();
                    // `flags = path::Flags` says where the type is; it is not a flag.
                    if name != "flags" {
                        let shown = format!("#[stub({name} = ..)]");
                        self.reference(name, shown, Syntax::StubAttribute, ident.span());
                    }
                }
            }
            _ => {}
        }
        visit::visit_attribute(self, attr);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.markers(path);
        visit::visit_path(self, path);
    }

    fn visit_expr_path(&mut self, expr: &'ast ExprPath) {
        let segments: Vec<_> = expr.path.segments.iter().collect();
        if let [.., owner, member] = segments[..] {
            if self.types.contains(&owner.ident.to_string()) {
                self.accessor(&owner.ident, &member.ident);
            }
        }
        // A stub setter as a value: `.map(FlagsStub::x)`.
        if let Some(member) = stub_member(self.types, &expr.path) {
            let shown = format!("{DEFAULT_TYPE}Stub::{}", member.unraw());
            self.reference(
                member.unraw().to_string(),
                shown,
                Syntax::Stub,
                member.span(),
            );
        }
        visit::visit_expr_path(self, expr);
    }

    fn visit_expr_call(&mut self, expr: &'ast ExprCall) {
        if let Expr::Path(path) = &*expr.func {
            if let Some(last) = path.path.segments.last() {
                self.call(&last.ident, last.ident.span());
            }
        }
        // `Flags::each(FlagsStub::x)`: the setter is the flag's reference, as each.
        if let Some((builder, member)) = each_call(self.types, expr) {
            let shown = format!(
                "{DEFAULT_TYPE}::{builder}({DEFAULT_TYPE}Stub::{})",
                member.unraw()
            );
            self.reference(
                member.unraw().to_string(),
                shown,
                Syntax::Each,
                member.span(),
            );
            for attr in &expr.attrs {
                self.visit_attribute(attr);
            }
            self.visit_expr(&expr.func);
            for arg in expr.args.iter().skip(1) {
                self.visit_expr(arg);
            }
            return;
        }
        visit::visit_expr_call(self, expr);
    }

    fn visit_expr_method_call(&mut self, expr: &'ast ExprMethodCall) {
        let method = expr.method.unraw().to_string();
        if let Some(syntax) = self.builder(&expr.receiver) {
            let builder = match syntax {
                Syntax::Each => "each",
                Syntax::Snapshot => "snapshot",
                _ => "stub",
            };
            let shown = format!("{DEFAULT_TYPE}::{builder}().{method}");
            if !naming::RESERVED_ACCESSORS.contains(&method.as_str()) {
                self.reference(method, shown, syntax, expr.method.span());
            }
        } else if RUNTIME_METHODS.contains(&method.as_str())
            && self.is_flags_call(&expr.receiver, "runtime")
        {
            if let Some(Expr::Lit(lit)) = expr.args.first() {
                if let Lit::Str(name) = &lit.lit {
                    let shown = format!("{DEFAULT_TYPE}::runtime().{method}({:?})", name.value());
                    self.reference(name.value(), shown, Syntax::Runtime, name.span());
                }
            }
        }
        self.call(&expr.method, expr.method.span());
        visit::visit_expr_method_call(self, expr);
    }

    fn visit_expr_if(&mut self, expr: &'ast ExprIf) {
        for attr in &expr.attrs {
            self.visit_attribute(attr);
        }
        self.visit_expr(&expr.cond);
        let depth = self.gates.len();
        let on = self.flags_on(&expr.cond);
        self.gates.extend(on);
        self.visit_block(&expr.then_branch);
        self.gates.truncate(depth);
        if let Some((_, otherwise)) = &expr.else_branch {
            let on = self.flags_off(&expr.cond);
            self.gates.extend(on);
            self.visit_expr(otherwise);
            self.gates.truncate(depth);
        }
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        // `declare!`'s arguments name a file and a type, not flags.
        if last_segment(&mac.path).as_deref() == Some("declare") {
            return;
        }
        // Most macros (`println!`, `assert!`, `vec!`) take expressions; read them as such so
        // builder chains and gates inside are seen. Others are searched token by token.
        match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            Ok(exprs) => exprs.iter().for_each(|expr| self.visit_expr(expr)),
            Err(_) => self.scan_tokens(mac.tokens.clone()),
        }
    }
}

/// `Flags::x` (or `crate::Flags::x`), `Flags` being one of `types`: the `x` segment.
pub(crate) fn flags_member<'p>(types: &BTreeSet<String>, path: &'p syn::Path) -> Option<&'p Ident> {
    let segments: Vec<_> = path.segments.iter().collect();
    match segments[..] {
        [.., owner, member] if types.contains(&owner.ident.to_string()) => Some(&member.ident),
        _ => None,
    }
}

/// `FlagsStub::member`: a stub setter named as a value, `Flags` being one of `types`.
pub(crate) fn stub_member<'p>(types: &BTreeSet<String>, path: &'p syn::Path) -> Option<&'p Ident> {
    let segments: Vec<_> = path.segments.iter().collect();
    match segments[..] {
        [.., owner, member] => {
            let owner = owner.ident.to_string();
            let declared = owner.strip_suffix("Stub")?;
            types.contains(declared).then_some(&member.ident)
        }
        _ => None,
    }
}

/// `Flags::each(FlagsStub::x)` or `Flags::each_of(FlagsStub::x, ..)`: which of the two,
/// and the setter's name.
pub(crate) fn each_call<'e>(
    types: &BTreeSet<String>,
    call: &'e ExprCall,
) -> Option<(&'static str, &'e Ident)> {
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let builder = match flags_member(types, &func.path)?.to_string().as_str() {
        "each" => "each",
        "each_of" => "each_of",
        _ => return None,
    };
    let Expr::Path(setter) = strip_parens(call.args.first()?) else {
        return None;
    };
    Some((builder, stub_member(types, &setter.path)?))
}

/// `Flags::name()` for one of the generated type's own methods (`stub`, `runtime`...).
pub(crate) fn is_flags_call(types: &BTreeSet<String>, expr: &Expr, method: &str) -> bool {
    let Expr::Call(call) = strip_parens(expr) else {
        return false;
    };
    let Expr::Path(path) = &*call.func else {
        return false;
    };
    flags_member(types, &path.path).is_some_and(|m| m == method)
}

/// The last segment of a path: `feature_gate` of `flags::feature_gate`.
pub(crate) fn last_segment(path: &syn::Path) -> Option<String> {
    path.segments.last().map(|s| s.ident.to_string())
}

/// `expr` without the parentheses (and invisible groups) around it.
pub(crate) fn strip_parens(mut expr: &Expr) -> &Expr {
    loop {
        match expr {
            Expr::Paren(inner) => expr = &inner.expr,
            Expr::Group(inner) => expr = &inner.expr,
            _ => return expr,
        }
    }
}

/// `#[test]`, `#[tokio::test]`, `#[flags::stub(..)]`, `#[cfg(test)]` (not `#[cfg(not(test))]`).
fn is_test_attribute(attr: &Attribute) -> bool {
    match last_segment(attr.path()).as_deref() {
        Some("test" | "stub") => true,
        Some("cfg") => match &attr.meta {
            syn::Meta::List(list) => mentions_test(list.tokens.clone()),
            _ => false,
        },
        _ => false,
    }
}

fn mentions_test(tokens: TokenStream) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) if ident == "not" => {
                // Skip the negated group.
                tokens.next();
            }
            TokenTree::Ident(ident) if ident == "test" => return true,
            TokenTree::Group(group) if mentions_test(group.stream()) => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans a crate whose files are `(path, text)`, with an empty flags.toml beside them.
    fn scan_files(files: &[(&str, &str)]) -> Scan {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("flags.toml"), "").expect("flags.toml");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
            std::fs::write(path, text).expect("source file");
        }
        scan(dir.path(), &dir.path().join("flags.toml"))
    }

    fn found(scan: &Scan) -> Vec<(String, Syntax, usize)> {
        scan.references
            .iter()
            .map(|r| (r.name.clone(), r.syntax, r.at.line))
            .collect()
    }

    #[test]
    fn every_way_of_naming_a_flag_is_found_with_its_line() {
        let scan = scan_files(&[(
            "src/main.rs",
            r#"flags::declare!();
fn main() {
    let _ = Flags::a_enabled();
    println!("{}", crate::Flags::b_for(&user));
    let _stub = Flags::stub().c(true).d(1);
    for (_v, _s) in Flags::each(FlagsStub::e) {}
    let _ = Flags::snapshot().f();
    Flags::runtime().set_override("g-key", "true").ok();
    let _ = Flags::r#type();
    let _ = vec![Flags::h(); 2];
    Flags::init().ok();
}
#[flags::feature_gate("i-key", fallback = other)]
fn gated() {}
#[test]
#[flags::stub(j = true, flags = crate::Flags)]
fn stubbed() {}
"#,
        )]);
        assert_eq!(
            found(&scan),
            [
                ("a_enabled".into(), Syntax::Accessor, 3),
                ("b_for".into(), Syntax::Accessor, 4),
                ("c".into(), Syntax::Stub, 5),
                ("d".into(), Syntax::Stub, 5),
                ("e".into(), Syntax::Each, 6),
                ("f".into(), Syntax::Snapshot, 7),
                ("g-key".into(), Syntax::Runtime, 8),
                ("type".into(), Syntax::Accessor, 9),
                ("h".into(), Syntax::Accessor, 10),
                ("i-key".into(), Syntax::Gate, 13),
                ("j".into(), Syntax::StubAttribute, 16),
            ]
        );
        let reference = &scan.references[1];
        assert_eq!(reference.flag_name(), "b");
        assert!(scan.location(reference.at).ends_with("src/main.rs:4:34"));
        assert_eq!(
            &scan.file(reference.at).text()[scan.span(reference.at)],
            "b_for"
        );
    }

    #[test]
    fn renamed_types_count_and_other_catalogs_and_crates_are_left_out() {
        let scan = scan_files(&[
            (
                "src/lib.rs",
                "flags::declare!(\"flags.toml\", name = AppFlags);\nfn f() { AppFlags::a(); }\n",
            ),
            (
                "tests/other.rs",
                "flags::declare!(\"fixtures/other.toml\");\nfn f() { Flags::b(); }\n",
            ),
            ("tests/nested/Cargo.toml", ""),
            ("tests/nested/src/lib.rs", "fn f() { Flags::c(); }\n"),
            ("benches/Cargo.toml", ""),
            (
                "benches/bench.rs",
                "flags::declare!();\nfn f() { Flags::e(); }\n",
            ),
            ("target/debug/x.rs", "fn f() { Flags::d(); }\n"),
            ("examples/broken.rs", "fn f( {\n"),
        ]);
        assert_eq!(found(&scan), [("a".into(), Syntax::Accessor, 2)]);
        let [(path, other)] = &scan.other_catalogs[..] else {
            panic!("one file of another catalog: {:?}", scan.other_catalogs);
        };
        assert!(path.ends_with("tests/other.rs"), "{path}");
        assert_eq!(other, "fixtures/other.toml");
        assert_eq!(scan.unreadable.len(), 1);
        assert!(scan.unreadable[0].path.ends_with("examples/broken.rs"));
    }

    #[test]
    fn calls_know_the_flags_whose_code_path_they_are_in() {
        let scan = scan_files(&[(
            "src/main.rs",
            r#"
#[feature_gate("a")]
fn gated() { inner(); fn nested() { free(); } }
fn main() {
    if Flags::b() && Flags::c_for(&u) { x.method(); } else { y(); }
    if !Flags::d() { z(); } else { w(); }
}
#[cfg(test)]
mod tests { fn t() { inner(); } }
"#,
        )]);
        let inside = |callee: &str| {
            let call = scan
                .calls
                .iter()
                .find(|c| c.callee == callee)
                .expect(callee);
            (call.inside.clone(), call.in_test)
        };
        assert_eq!(inside("inner"), (vec!["a".to_owned()], false));
        assert_eq!(inside("free"), (vec![], false));
        assert_eq!(
            inside("method"),
            (vec!["b".to_owned(), "c_for".to_owned()], false)
        );
        assert_eq!(inside("y"), (vec![], false));
        assert_eq!(inside("z"), (vec![], false));
        assert_eq!(inside("w"), (vec!["d".to_owned()], false));
        let in_test = scan
            .calls
            .iter()
            .filter(|c| c.callee == "inner")
            .nth(1)
            .expect("test call");
        assert!(in_test.in_test);
        assert_eq!(scan.gated_fns.len(), 1);
        assert_eq!(scan.gated_fns[0].name, "gated");
    }

    #[test]
    fn byte_offsets_count_characters_within_the_line() {
        let text = "fn a() {}\nlet é = Flags::x();\n";
        let offset = byte_offset(text, 2, 8);
        assert_eq!(&text[offset..offset + 5], "Flags");
        assert_eq!(byte_offset(text, 2, 1000), text.len() - 1);
        assert_eq!(byte_offset(text, 9, 0), text.len());
    }

    #[test]
    fn cfg_test_but_not_cfg_not_test_marks_test_code() {
        let attr = |text: &str| -> Attribute {
            let item: ItemMod = syn::parse_str(&format!("{text} mod m {{}}")).expect("item");
            item.attrs[0].clone()
        };
        assert!(is_test_attribute(&attr("#[cfg(test)]")));
        assert!(is_test_attribute(&attr("#[cfg(all(test, unix))]")));
        assert!(!is_test_attribute(&attr("#[cfg(not(test))]")));
        assert!(is_test_attribute(&attr("#[tokio::test]")));
        assert!(!is_test_attribute(&attr("#[inline]")));
    }
}
