//! How `flags remove` rewrites a file as if a flag always had one value: every check of it
//! becomes that value, and the code that only ran for another value goes, as far as that
//! can be seen without compiling. docs/cli.md lists the rules and their limits.

use std::collections::BTreeSet;
use std::ops::Range;

use flags_model::{Flag, FlagType, Value};
use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{
    Attribute, BinOp, Block, Expr, ExprBinary, ExprForLoop, ExprIf, ExprMatch, ExprMethodCall,
    FnArg, Ident, ImplItemFn, ItemFn, Lit, LitStr, Local, Macro, MetaNameValue, Pat, Signature,
    Stmt, Token, Type, UnOp,
};

use crate::rewrite_text::Edits;
use crate::scan::{self, last_segment, strip_parens};

/// The flag being retired, and the value it keeps.
#[derive(Debug)]
pub(crate) struct Retired {
    /// Its key in flags.toml.
    pub(crate) key: String,
    /// Its accessor, `Flags::<accessor>()`.
    pub(crate) accessor: String,
    /// A bool flag's marker type, `XFeature`.
    pub(crate) marker: Option<String>,
    /// A variant flag's enum, and the identifiers of its variants.
    pub(crate) enum_name: Option<String>,
    /// The identifiers of a variant flag's variants (`Express`).
    pub(crate) variants: Vec<String>,
    /// The value every check now has.
    pub(crate) kept: Kept,
    /// The names of the generated type (`Flags`).
    pub(crate) types: BTreeSet<String>,
    /// With the flag kept off: the handlers that take `Enabled<XFeature>`, which no request
    /// reaches any more; they go with their routes.
    pub(crate) handlers: BTreeSet<String>,
}

/// A value a flag keeps, as code can write it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kept {
    /// A bool flag's.
    Bool(bool),
    /// An integer flag's.
    Int(i64),
    /// A float flag's.
    Float(f64),
    /// A string flag's.
    Str(String),
    /// A variant: its identifier (`Express`) and its name in flags.toml (`express`).
    Variant { ident: String, name: String },
}

impl Kept {
    /// The kept value of `flag`, read from `value`.
    pub(crate) fn new(flag: &Flag, value: &Value) -> Kept {
        match value {
            Value::Bool(b) => Kept::Bool(*b),
            Value::Int(i) => Kept::Int(*i),
            Value::Float(f) => Kept::Float(*f),
            Value::String(s) => Kept::Str(s.to_string()),
            Value::Variant { index, name } => {
                let ident = match flag.flag_type() {
                    FlagType::Variants(variants) => variants
                        .get(*index as usize)
                        .map_or_else(|| name.to_string(), |v| v.ident().to_owned()),
                    _ => name.to_string(),
                };
                Kept::Variant {
                    ident,
                    name: name.to_string(),
                }
            }
        }
    }

    /// The value as an expression of the accessor's type; a variant has none once its enum
    /// is gone.
    pub(crate) fn literal(&self) -> Option<String> {
        Some(match self {
            Kept::Bool(b) => b.to_string(),
            Kept::Int(i) => format!("{i}_i64"),
            Kept::Float(f) => format!("{f:?}_f64"),
            Kept::Str(s) => format!("::std::sync::Arc::<str>::from({s:?})"),
            Kept::Variant { .. } => return None,
        })
    }

    /// The value as people write it: `true`, `25`, `express`.
    pub(crate) fn shown(&self) -> String {
        match self {
            Kept::Bool(b) => b.to_string(),
            Kept::Int(i) => i.to_string(),
            Kept::Float(f) => format!("{f:?}"),
            Kept::Str(s) => format!("{s:?}"),
            Kept::Variant { name, .. } => name.clone(),
        }
    }

    fn constant(&self) -> Constant {
        match self {
            Kept::Bool(b) => Constant::Bool(*b),
            Kept::Int(i) => Constant::Int(i128::from(*i)),
            Kept::Float(f) => Constant::Float(*f),
            Kept::Str(s) => Constant::Str(s.clone()),
            Kept::Variant { ident, .. } => Constant::Variant(ident.clone()),
        }
    }
}

/// What a place needs from a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NoteKind {
    /// It still names the flag, or depends on it: it must be changed by hand.
    Left,
    /// Code was removed with the flag (a test of the other value, a handler): look at it.
    Removed,
    /// Code kept as written, though the kept value decides it, because an operand that runs
    /// before the flag's may have side effects: look at it.
    Kept,
}

/// A place to tell about, by byte offset in the original text.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    /// Where, in the text before the rewrite.
    pub(crate) offset: usize,
    /// What it needs.
    pub(crate) kind: NoteKind,
    /// What happened, or what to do.
    pub(crate) message: String,
}

/// A file rewritten: its new text (the same when nothing changed) and what to tell.
#[derive(Debug)]
pub(crate) struct Rewrite {
    /// The new text.
    pub(crate) text: String,
    /// The places to tell about.
    pub(crate) notes: Vec<Note>,
}

/// Rewrites `text` (parsed as `file`, from byte `base`) as if `flag` always had its kept
/// value.
pub(crate) fn rewrite(text: &str, base: usize, file: &syn::File, flag: &Retired) -> Rewrite {
    let imports_disabled = file.items.iter().any(|item| match item {
        syn::Item::Use(item) => use_names(&item.tree).contains(&"FeatureDisabled".to_owned()),
        _ => false,
    });
    let mut rewriter = Rewriter {
        flag,
        edits: Edits::new(text, base),
        notes: Vec::new(),
        known: Vec::new(),
        fns: Vec::new(),
        routers: Vec::new(),
        imports_disabled,
    };
    rewriter.visit_file(file);
    let mut notes = rewriter.notes;
    for (offset, why) in rewriter.edits.still_pending() {
        notes.push(Note {
            offset,
            kind: NoteKind::Left,
            message: why.to_owned(),
        });
    }
    Rewrite {
        text: rewriter.edits.apply(),
        notes,
    }
}

/// The names of the fns of `file` that take `Enabled<marker>`: handlers gated by the flag.
pub(crate) fn enabled_handlers(file: &syn::File, marker: &str) -> Vec<String> {
    struct Handlers<'m>(&'m str, Vec<String>);
    impl<'ast> Visit<'ast> for Handlers<'_> {
        fn visit_signature(&mut self, sig: &'ast Signature) {
            if takes_enabled(sig, self.0) {
                self.1.push(sig.ident.unraw().to_string());
            }
        }
    }
    let mut handlers = Handlers(marker, Vec::new());
    handlers.visit_file(file);
    handlers.1
}

/// A condition as far as it is known.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cond {
    Known(bool),
    Other,
}

/// A value written in code: a literal, or a variant of the flag's enum.
#[derive(Clone, Debug, PartialEq)]
enum Constant {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Variant(String),
}

/// Where an expression stands, which decides what it can become.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// A statement of a block: the last one or not, and, when last, whether it gives the
    /// block its value (no `;`).
    Stmt { last: bool, tail: bool },
    /// Inside an expression.
    Expr,
}

/// The fn the walk is in.
struct Frame {
    test: bool,
    /// Why the test exercises a value the flag no longer has.
    doomed: Option<String>,
}

struct Rewriter<'a, 't> {
    flag: &'a Retired,
    edits: Edits<'t>,
    notes: Vec<Note>,
    /// Variables that hold the flag's value, in the blocks being walked.
    known: Vec<String>,
    fns: Vec<Frame>,
    /// With the flag off: variables that held a router behind its gate (now gone).
    routers: Vec<String>,
    /// Whether the file imports `FeatureDisabled`.
    imports_disabled: bool,
}

impl Rewriter<'_, '_> {
    fn note(&mut self, offset: usize, kind: NoteKind, message: String) {
        self.notes.push(Note {
            offset,
            kind,
            message,
        });
    }

    fn left(&mut self, offset: usize, message: impl Into<String>) {
        self.note(offset, NoteKind::Left, message.into());
    }

    /// The flag is kept off (a bool kept false).
    fn off(&self) -> bool {
        self.flag.kept == Kept::Bool(false)
    }

    fn render(&self, node: &impl syn::spanned::Spanned) -> String {
        self.edits.render(self.edits.range(node))
    }

    /// Code that runs only while the flag has another value: the enclosing test goes, or,
    /// outside a test, a person decides.
    fn doom(&mut self, offset: usize, why: String) {
        match self.fns.last_mut() {
            Some(frame) if frame.test => {
                frame.doomed.get_or_insert(why);
            }
            _ => self.left(
                offset,
                format!(
                    "{why}, a value the flag no longer has; change it by hand (only tests are removed)"
                ),
            ),
        }
    }

    fn flags_member<'p>(&self, path: &'p syn::Path) -> Option<&'p Ident> {
        scan::flags_member(&self.flag.types, path)
    }

    fn is_flags_call(&self, expr: &Expr, method: &str) -> bool {
        scan::is_flags_call(&self.flag.types, expr, method)
    }

    /// `Flags::x(..)` or `Flags::x_for(..)`, with the name of the method.
    fn accessor_call(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Call(call) => {
                let Expr::Path(path) = &*call.func else {
                    return None;
                };
                let member = self.flags_member(&path.path)?.unraw().to_string();
                let accessor = &self.flag.accessor;
                let ours = member == *accessor
                    || member == format!("{accessor}_for")
                    || member == format!("{accessor}_details");
                ours.then_some(member)
            }
            Expr::MethodCall(call)
                if call.method.unraw() == self.flag.accessor
                    && call.args.is_empty()
                    && self.is_flags_call(&call.receiver, "snapshot") =>
            {
                Some(self.flag.accessor.clone())
            }
            _ => None,
        }
    }

    /// Whether `expr` is the flag's value: `Flags::x()`, `Flags::x_for(&u)`,
    /// `Flags::x_details(&u).value`, `Flags::snapshot().x()`, or a variable holding it.
    fn is_known(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Call(_) | Expr::MethodCall(_) => self
                .accessor_call(expr)
                .is_some_and(|m| !m.ends_with("_details")),
            Expr::Field(field) => {
                matches!(&field.member, syn::Member::Named(name) if name == "value")
                    && self
                        .accessor_call(&field.base)
                        .is_some_and(|m| m.ends_with("_details"))
            }
            Expr::Path(path) => {
                path.qself.is_none()
                    && path
                        .path
                        .get_ident()
                        .is_some_and(|ident| self.known.iter().any(|k| ident == k))
            }
            _ => false,
        }
    }

    /// A constant written in code, or the flag's value.
    fn constant(&self, expr: &Expr) -> Option<Constant> {
        if self.is_known(expr) {
            return Some(self.flag.kept.constant());
        }
        match strip_parens(expr) {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Bool(b) => Some(Constant::Bool(b.value)),
                Lit::Int(i) => i.base10_parse().ok().map(Constant::Int),
                Lit::Float(f) => f.base10_parse().ok().map(Constant::Float),
                Lit::Str(s) => Some(Constant::Str(s.value())),
                _ => None,
            },
            Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
                match self.constant(&unary.expr)? {
                    Constant::Int(i) => Some(Constant::Int(-i)),
                    Constant::Float(f) => Some(Constant::Float(-f)),
                    _ => None,
                }
            }
            Expr::Path(path) => self.variant_path(&path.path),
            _ => None,
        }
    }

    /// `CheckoutFlow::Express`, or `Express` when it is a variant's identifier.
    fn variant_path(&self, path: &syn::Path) -> Option<Constant> {
        let enum_name = self.flag.enum_name.as_deref()?;
        let segments: Vec<_> = path.segments.iter().collect();
        let last = segments.last()?.ident.to_string();
        let of_enum = match segments[..] {
            [.., owner, _] => owner.ident == enum_name,
            [_] => self.flag.variants.contains(&last),
            [] => false,
        };
        of_enum.then_some(Constant::Variant(last))
    }

    /// Whether the two sides are equal, when both are known.
    fn equal(&self, left: &Expr, right: &Expr) -> Option<bool> {
        if !(self.is_known(left) || self.is_known(right)) {
            return None;
        }
        Some(self.constant(left)? == self.constant(right)?)
    }

    fn compare(&self, binary: &ExprBinary) -> Option<bool> {
        let equal = || self.equal(&binary.left, &binary.right);
        let order = || {
            if !(self.is_known(&binary.left) || self.is_known(&binary.right)) {
                return None;
            }
            let as_number = |c: Constant| match c {
                Constant::Int(i) => Some(i as f64),
                Constant::Float(f) => Some(f),
                _ => None,
            };
            let left = as_number(self.constant(&binary.left)?)?;
            let right = as_number(self.constant(&binary.right)?)?;
            left.partial_cmp(&right)
        };
        use std::cmp::Ordering::{Greater, Less};
        match binary.op {
            BinOp::Eq(_) => equal(),
            BinOp::Ne(_) => equal().map(|e| !e),
            BinOp::Lt(_) => order().map(|o| o == Less),
            BinOp::Le(_) => order().map(|o| o != Greater),
            BinOp::Gt(_) => order().map(|o| o == Greater),
            BinOp::Ge(_) => order().map(|o| o != Less),
            _ => None,
        }
    }

    /// A condition, as far as the flag decides it.
    fn eval(&self, expr: &Expr) -> Cond {
        if self.is_known(expr) {
            return match self.flag.kept {
                Kept::Bool(b) => Cond::Known(b),
                _ => Cond::Other,
            };
        }
        match expr {
            Expr::Paren(paren) => self.eval(&paren.expr),
            Expr::Unary(unary) if matches!(unary.op, UnOp::Not(_)) => {
                match self.eval(&unary.expr) {
                    Cond::Known(b) => Cond::Known(!b),
                    Cond::Other => Cond::Other,
                }
            }
            Expr::Binary(binary) => match binary.op {
                BinOp::And(_) | BinOp::Or(_) => {
                    let and = matches!(binary.op, BinOp::And(_));
                    match (self.eval(&binary.left), self.eval(&binary.right)) {
                        (Cond::Known(a), Cond::Known(b)) => {
                            Cond::Known(if and { a && b } else { a || b })
                        }
                        // `false && x` is false and `true || x` true: x never runs.
                        (Cond::Known(decided), _) if decided != and => Cond::Known(decided),
                        // `x && false` is false, `x || true` true, but only without x's effects.
                        (_, Cond::Known(decided)) if decided != and && is_pure(&binary.left) => {
                            Cond::Known(decided)
                        }
                        _ => Cond::Other,
                    }
                }
                _ => self.compare(binary).map_or(Cond::Other, Cond::Known),
            },
            Expr::Macro(mac) => self
                .matches_macro(&mac.mac)
                .map_or(Cond::Other, Cond::Known),
            _ => Cond::Other,
        }
    }

    /// `matches!(Flags::x(), pattern)`.
    fn matches_macro(&self, mac: &Macro) -> Option<bool> {
        if last_segment(&mac.path).as_deref() != Some("matches") {
            return None;
        }
        let (scrutinee, pattern) = mac
            .parse_body_with(|input: ParseStream<'_>| {
                let scrutinee: Expr = input.parse()?;
                input.parse::<Token![,]>()?;
                let pattern = Pat::parse_multi_with_leading_vert(input)?;
                let rest: TokenStream = input.parse()?;
                Ok((scrutinee, pattern, rest.is_empty()))
            })
            .ok()
            .filter(|(_, _, plain)| *plain)
            .map(|(s, p, _)| (s, p))?;
        if !self.is_known(&scrutinee) {
            return None;
        }
        self.pattern_matches(&pattern)
    }

    /// Whether the flag's value matches `pattern`, when that can be told.
    fn pattern_matches(&self, pattern: &Pat) -> Option<bool> {
        let kept = self.flag.kept.constant();
        match pattern {
            Pat::Wild(_) => Some(true),
            Pat::Paren(paren) => self.pattern_matches(&paren.pat),
            Pat::Or(or) => {
                let each: Vec<Option<bool>> =
                    or.cases.iter().map(|c| self.pattern_matches(c)).collect();
                if each.contains(&Some(true)) {
                    Some(true)
                } else if each.iter().all(|c| *c == Some(false)) {
                    Some(false)
                } else {
                    None
                }
            }
            Pat::Lit(lit) => Some(self.constant(&Expr::Lit(lit.clone()))? == kept),
            Pat::Path(path) => Some(self.variant_path(&path.path)? == kept),
            Pat::Ident(ident) if ident.subpat.is_none() => {
                let name = ident.ident.to_string();
                if self.flag.variants.contains(&name) {
                    Some(Constant::Variant(name) == kept)
                } else {
                    // A binding matches any value.
                    Some(true)
                }
            }
            _ => None,
        }
    }

    /// Whether the value given to a stub is the kept one.
    fn is_kept_value(&self, expr: &Expr) -> Option<bool> {
        Some(self.constant(expr)? == self.flag.kept.constant())
    }

    /// `Flags::stub()`, or a chain of stub methods on it.
    fn is_stub_chain(&self, expr: &Expr) -> bool {
        let mut expr = strip_parens(expr);
        while let Expr::MethodCall(inner) = expr {
            expr = strip_parens(&inner.receiver);
        }
        self.is_flags_call(expr, "stub")
    }

    /// `Flags::stub().x(kept)` and nothing else: a stub that sets nothing any more.
    fn is_spent_stub(&self, expr: &Expr) -> bool {
        let mut expr = strip_parens(expr);
        let mut ours = false;
        while let Expr::MethodCall(call) = expr {
            if call.method.unraw() != self.flag.accessor
                || call.args.first().and_then(|a| self.is_kept_value(a)) != Some(true)
            {
                return false;
            }
            ours = true;
            expr = strip_parens(&call.receiver);
        }
        ours && self.is_flags_call(expr, "stub")
    }

    /// `FeatureGate::new::<XFeature>()`, with `.status(..)` or `.respond_with(..)`.
    fn is_our_gate(&self, expr: &Expr) -> bool {
        let Some(marker) = &self.flag.marker else {
            return false;
        };
        let mut expr = strip_parens(expr);
        while let Expr::MethodCall(call) = expr {
            expr = strip_parens(&call.receiver);
        }
        let Expr::Call(call) = expr else {
            return false;
        };
        let Expr::Path(path) = &*call.func else {
            return false;
        };
        let segments: Vec<_> = path.path.segments.iter().collect();
        let [.., gate, new] = segments[..] else {
            return false;
        };
        gate.ident == "FeatureGate" && new.ident == "new" && generic_names(new, marker)
    }

    /// `router.layer(FeatureGate::new::<XFeature>())`.
    fn is_gated_router(&self, expr: &Expr) -> bool {
        match strip_parens(expr) {
            Expr::MethodCall(call) => {
                (call.method == "layer" || call.method == "route_layer")
                    && call.args.len() == 1
                    && self.is_our_gate(&call.args[0])
            }
            _ => false,
        }
    }

    /// The `#[feature_gate("x", ..)]` of the flag among `attrs`, with its `fallback`.
    fn our_gate<'x>(&self, attrs: &'x [Attribute]) -> Option<(&'x Attribute, Option<syn::Path>)> {
        attrs.iter().find_map(|attr| {
            if last_segment(attr.path()).as_deref() != Some("feature_gate") {
                return None;
            }
            let (name, fallback) = attr
                .parse_args_with(|input: ParseStream<'_>| {
                    let name: LitStr = input.parse()?;
                    let mut fallback = None;
                    while !input.is_empty() {
                        input.parse::<Token![,]>()?;
                        if input.is_empty() {
                            break;
                        }
                        let key = input.call(Ident::parse_any)?;
                        input.parse::<Token![=]>()?;
                        if key == "fallback" {
                            fallback = Some(input.parse::<syn::Path>()?);
                        } else {
                            input.parse::<Expr>()?;
                        }
                    }
                    Ok((name, fallback))
                })
                .ok()?;
            let name = name.value();
            (name == self.flag.key || name == self.flag.accessor).then_some((attr, fallback))
        })
    }

    fn literal_or_left(&mut self, offset: usize) -> Option<String> {
        let literal = self.flag.kept.literal();
        if literal.is_none() {
            self.left(
                offset,
                format!(
                    "holds a value of `{}`, which goes away with the flag",
                    self.flag.enum_name.as_deref().unwrap_or("its enum")
                ),
            );
        }
        literal
    }

    /// After the walk of an expression's parts: the flag's value, and what it decides.
    fn after_expr(&mut self, expr: &Expr) {
        let range = self.edits.expr_range(expr);
        if self.is_known(expr) {
            match self.flag.kept.literal() {
                Some(literal) => {
                    self.edits.replace(range, literal);
                }
                None => {
                    let enum_name = self.flag.enum_name.clone().unwrap_or_default();
                    self.edits.pending(
                        range,
                        format!("holds a value of `{enum_name}`, which goes away with the flag"),
                    );
                }
            }
            return;
        }
        match expr {
            Expr::Unary(_) | Expr::Paren(_) | Expr::Macro(_) => {
                if let Cond::Known(b) = self.eval(expr) {
                    self.edits.replace(range, b.to_string());
                }
            }
            Expr::Binary(binary) => self.after_binary(expr, binary, range),
            Expr::MethodCall(call) => self.after_method_call(expr, call, range),
            _ => {}
        }
    }

    /// `expr` is `binary`, as an expression.
    fn after_binary(&mut self, expr: &Expr, binary: &ExprBinary, range: Range<usize>) {
        if let Cond::Known(b) = self.eval(expr) {
            self.edits.replace(range, b.to_string());
            return;
        }
        if !matches!(binary.op, BinOp::And(_) | BinOp::Or(_)) {
            return;
        }
        let and = matches!(binary.op, BinOp::And(_));
        // `x && true` is x; `x || false` is x.
        let other = match (self.eval(&binary.left), self.eval(&binary.right)) {
            (Cond::Known(_), Cond::Other) => &binary.right,
            (Cond::Other, Cond::Known(decided)) if decided == and => &binary.left,
            (Cond::Other, Cond::Known(decided)) => {
                let shown = self.render(&*binary.left);
                self.note(
                    range.start,
                    NoteKind::Kept,
                    format!(
                        "is always `{decided}` now, but `{shown}` runs first and may have side effects: kept as written"
                    ),
                );
                return;
            }
            _ => return,
        };
        let text = self.render(&**other);
        self.edits.replace(range, text);
    }

    /// `expr` is `call`, as an expression.
    fn after_method_call(&mut self, expr: &Expr, call: &ExprMethodCall, range: Range<usize>) {
        let method = call.method.unraw().to_string();
        // The method and its arguments, after what it is called on.
        let segment = self.edits.expr_range(&call.receiver).end..range.end;
        if method == self.flag.accessor && self.is_stub_chain(&call.receiver) {
            match call.args.first().and_then(|a| self.is_kept_value(a)) {
                Some(true) => {
                    self.edits.remove(segment);
                }
                Some(false) => {
                    let value = call.args.first().map(|a| self.render(a)).unwrap_or_default();
                    self.doom(range.start, format!("stubs the flag to `{value}`"));
                }
                None => self.left(
                    range.start,
                    "stubs the flag to a value that is not written out: set it to the kept value or remove the stub",
                ),
            }
            return;
        }
        if self.is_gated_router(expr) {
            if self.off() {
                self.close_router(call, range);
            } else {
                self.edits.remove(segment);
            }
            return;
        }
        if !self.off() {
            return;
        }
        let last_argument = call.args.last();
        let merges_gone = matches!(method.as_str(), "merge" | "nest" | "nest_service")
            && last_argument.is_some_and(|a| self.is_gated_router(a) || self.is_gone_router(a));
        if merges_gone {
            self.edits.remove(segment);
            return;
        }
        if method == "route" && call.args.len() == 2 {
            let handlers = handler_names(&call.args[1]);
            let gone = handlers
                .iter()
                .filter(|h| self.flag.handlers.contains(*h))
                .count();
            if gone > 0 && gone == handlers.len() {
                self.edits.remove(segment);
            } else if gone > 0 {
                self.left(
                    range.start,
                    "routes some methods to a handler removed with the flag: remove them by hand",
                );
            }
        }
    }

    /// A variable that held a router behind the flag's gate.
    fn is_gone_router(&self, expr: &Expr) -> bool {
        match strip_parens(expr) {
            Expr::Path(path) => path
                .path
                .get_ident()
                .is_some_and(|ident| self.routers.iter().any(|r| ident == r)),
            _ => false,
        }
    }

    /// With the flag off, a router behind its gate answers nothing: an empty router.
    fn close_router(&mut self, call: &ExprMethodCall, range: Range<usize>) {
        let mut root = strip_parens(&call.receiver);
        while let Expr::MethodCall(inner) = root {
            root = strip_parens(&inner.receiver);
        }
        if matches!(root, Expr::Call(_)) {
            let text = self.render(root);
            self.edits.replace(range, text);
        } else {
            self.left(
                range.start,
                "closes a router the flag kept off: remove its routes by hand",
            );
        }
    }

    /// `if`, with its `else if` chain: the branches the flag decides go or stay.
    fn rewrite_if(&mut self, expr: &ExprIf, place: Place, range: Range<usize>) {
        let mut branches: Vec<(&Expr, &Block)> = Vec::new();
        let mut otherwise = None;
        let mut current = expr;
        loop {
            branches.push((&current.cond, &current.then_branch));
            match current.else_branch.as_ref().map(|(_, e)| &**e) {
                Some(Expr::If(inner)) => current = inner,
                Some(Expr::Block(block)) => {
                    otherwise = Some(&block.block);
                    break;
                }
                Some(other) => {
                    self.visit_expr(other);
                    break;
                }
                None => break,
            }
        }
        for (cond, block) in &branches {
            self.visit_expr(cond);
            self.visit_block(block);
        }
        if let Some(block) = otherwise {
            self.visit_block(block);
        }
        let evals: Vec<Cond> = branches.iter().map(|(c, _)| self.eval(c)).collect();
        if evals.iter().all(|e| *e == Cond::Other) {
            return;
        }
        let mut kept = Vec::new();
        for ((cond, block), eval) in branches.iter().zip(evals) {
            match eval {
                Cond::Known(false) => {}
                Cond::Known(true) => {
                    otherwise = Some(block);
                    break;
                }
                Cond::Other => kept.push((*cond, *block)),
            }
        }
        if kept.is_empty() {
            match otherwise {
                Some(block) => self.splice_block(range, block, place),
                None => self.remove_expr(range, place),
            }
            return;
        }
        let mut text = String::new();
        for (index, (cond, block)) in kept.iter().enumerate() {
            if index > 0 {
                text.push_str(" else ");
            }
            text.push_str(&format!(
                "if {} {}",
                self.render(*cond),
                self.render(*block)
            ));
        }
        if let Some(block) = otherwise {
            text.push_str(&format!(" else {}", self.render(block)));
        }
        self.edits.replace(range, text);
    }

    /// `match Flags::x() { .. }`: the arm of the kept value.
    fn rewrite_match(&mut self, expr: &ExprMatch, place: Place, range: Range<usize>) {
        self.visit_expr(&expr.expr);
        for arm in &expr.arms {
            self.visit_arm(arm);
        }
        if !self.is_known(&expr.expr) {
            return;
        }
        let mut chosen = None;
        for arm in &expr.arms {
            let (pattern, guard) = match &arm.pat {
                Pat::Guard(guarded) => (&*guarded.pat, Some(&*guarded.guard)),
                pattern => (pattern, None),
            };
            let matched = match (self.pattern_matches(pattern), guard) {
                (Some(false), _) => false,
                (Some(true), None) => true,
                (Some(true), Some(guard)) => match self.eval(guard) {
                    Cond::Known(b) => b,
                    Cond::Other => return,
                },
                (None, _) => return,
            };
            if matched {
                if let Pat::Ident(binding) = pattern {
                    let name = binding.ident.to_string();
                    if !self.flag.variants.contains(&name)
                        && mentions(&self.render(&*arm.body), &name)
                    {
                        self.left(
                            self.edits.range(arm).start,
                            format!("the arm of the kept value uses `{name}`, bound to it: rewrite it by hand"),
                        );
                        return;
                    }
                }
                chosen = Some(arm);
                break;
            }
        }
        let Some(arm) = chosen else {
            return;
        };
        match (&*arm.body, place) {
            (Expr::Block(block), Place::Stmt { .. }) if block.label.is_none() => {
                self.splice_block(range, &block.block, place)
            }
            (body, Place::Stmt { tail, .. }) => {
                let mut text = self.render(body);
                if !tail && !is_block_like(body) {
                    text.push(';');
                }
                self.edits.replace(range, text);
            }
            (body, Place::Expr) => {
                let text = self.expression_of(body);
                self.edits.replace(range, text);
            }
        }
    }

    /// What an arm or a branch gives, as an expression: `{ a }` is `a`.
    fn expression_of(&self, body: &Expr) -> String {
        if let Expr::Block(block) = body {
            if let (None, [Stmt::Expr(tail, None)]) = (&block.label, &block.block.stmts[..]) {
                return self.value_of_block(tail);
            }
        }
        self.render(body)
    }

    fn value_of_block(&self, tail: &Expr) -> String {
        let text = self.render(tail);
        let bare = matches!(
            tail,
            Expr::Path(_)
                | Expr::Lit(_)
                | Expr::Call(_)
                | Expr::MethodCall(_)
                | Expr::Macro(_)
                | Expr::Field(_)
                | Expr::Index(_)
                | Expr::Paren(_)
                | Expr::Struct(_)
                | Expr::Tuple(_)
                | Expr::Array(_)
                | Expr::Block(_)
        );
        if bare { text } else { format!("({text})") }
    }

    /// Puts a block's statements where `range` (a statement, or an expression) was.
    fn splice_block(&mut self, range: Range<usize>, block: &Block, place: Place) {
        let Place::Stmt { last, tail } = place else {
            let text = match &block.stmts[..] {
                [Stmt::Expr(tail, None)] => self.value_of_block(tail),
                _ => self.render(block),
            };
            self.edits.replace(range, text);
            return;
        };
        if block.stmts.is_empty() {
            self.remove_expr(range, place);
            return;
        }
        // Names it declares would reach the statements after it, and its values would
        // live longer: it stays a block then.
        let declares = block
            .stmts
            .iter()
            .any(|s| matches!(s, Stmt::Local(_) | Stmt::Item(_) | Stmt::Macro(_)));
        if declares && !last {
            let text = self.render(block);
            self.edits.replace(range, text);
            return;
        }
        let mut text = self.edits.block_contents(block, range.start);
        if let Some(Stmt::Expr(value, None)) = block.stmts.last() {
            if !tail && !is_block_like(value) {
                text.push(';');
            }
        }
        self.edits.replace(range, text);
    }

    fn remove_expr(&mut self, range: Range<usize>, place: Place) {
        match place {
            Place::Stmt { .. } => {
                let lines = self.edits.whole_lines(range);
                self.edits.remove(lines);
            }
            Place::Expr => {
                self.edits.replace(range, "()");
            }
        }
    }

    /// `for (value, _stub) in Flags::each(FlagsStub::x) { .. }` (or `each_of`): the body,
    /// once, with the kept value.
    fn rewrite_each(&mut self, expr: &ExprForLoop, place: Place, range: Range<usize>) {
        let Expr::Call(each) = strip_parens(&expr.expr) else {
            return visit::visit_expr_for_loop(self, expr);
        };
        let ours = scan::each_call(&self.flag.types, each)
            .is_some_and(|(_, setter)| setter.unraw() == self.flag.accessor);
        if !ours {
            return visit::visit_expr_for_loop(self, expr);
        }
        let value = match strip_pat_parens(&expr.pat) {
            Pat::Tuple(tuple) if tuple.elems.len() == 2 => tuple.elems.first(),
            _ => None,
        };
        let binding = match value {
            Some(Pat::Wild(_)) => None,
            Some(pattern) => match simple_binding(pattern) {
                Some(name) => Some(name),
                None => {
                    self.left(
                        range.start,
                        "loops over the flag's values with a pattern that cannot be rewritten",
                    );
                    return visit::visit_expr_for_loop(self, expr);
                }
            },
            None => {
                self.left(
                    range.start,
                    "loops over the flag's values in a way that cannot be rewritten",
                );
                return visit::visit_expr_for_loop(self, expr);
            }
        };
        if expr.label.is_some() || has_loop_control(&expr.body) {
            self.left(
                range.start,
                "loops over the flag's values with `break` or `continue`: rewrite it by hand",
            );
            return visit::visit_expr_for_loop(self, expr);
        }
        let safe = binding
            .as_ref()
            .is_none_or(|name| !rebinds_or_formats(&expr.body.stmts, name));
        if let (Some(name), true) = (&binding, safe) {
            self.known.push(name.clone());
        }
        self.visit_block(&expr.body);
        if let (Some(_), true) = (&binding, safe) {
            self.known.pop();
        }
        if let (Some(name), false) = (&binding, safe) {
            let Some(literal) = self.literal_or_left(range.start) else {
                return;
            };
            // A block, to hold the binding.
            let open = self.edits.span_range(expr.body.brace_token.span.open()).end;
            let first = expr
                .body
                .stmts
                .first()
                .map_or(open, |s| self.edits.range(s).start);
            let indent = self.edits.indent_at(first).to_owned();
            self.edits
                .replace(open..open, format!("\n{indent}let {name} = {literal};"));
            let text = self.render(&expr.body);
            self.edits.replace(range, text);
            return;
        }
        self.splice_block(range, &expr.body, place);
    }

    /// `assert!(..)` and `assert_eq!(..)` of the flag: kept when they hold, which is
    /// nothing to check any more; a test of another value when they do not.
    fn rewrite_assert(&mut self, mac: &Macro, range: Range<usize>) {
        let Some(name) = last_segment(&mac.path) else {
            return;
        };
        let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) else {
            return;
        };
        let args: Vec<&Expr> = args.iter().collect();
        let holds = match (name.as_str(), &args[..]) {
            ("assert" | "debug_assert", [cond, ..]) => match self.eval(cond) {
                Cond::Known(b) => Some(b),
                Cond::Other => None,
            },
            ("assert_eq" | "debug_assert_eq", [a, b, ..]) => self.equal(a, b),
            ("assert_ne" | "debug_assert_ne", [a, b, ..]) => self.equal(a, b).map(|e| !e),
            _ => None,
        };
        match holds {
            Some(true) => {
                let lines = self.edits.whole_lines(range);
                self.edits.remove(lines);
            }
            Some(false) => self.doom(
                range.start,
                format!("asserts the flag is not {}", self.flag.kept.shown()),
            ),
            None => {}
        }
    }

    /// `let v = Flags::x();`: the uses of `v` become the value and the binding goes, when
    /// every use can be seen; otherwise it stays, as `let v = true;`.
    fn rewrite_local(&mut self, local: &Local, rest: &[Stmt]) {
        self.visit_local(local);
        let Some(init) = &local.init else {
            return;
        };
        if init.diverge.is_some() {
            return;
        }
        let range = self.edits.range(local);
        if self.is_spent_stub(&init.expr) {
            let lines = self.edits.whole_lines(range);
            self.edits.remove(lines);
            return;
        }
        if self.off() && self.is_gated_router(&init.expr) {
            if let Some(name) = simple_binding(&local.pat) {
                let lines = self.edits.whole_lines(range);
                self.edits.remove(lines);
                self.routers.push(name);
            }
            return;
        }
        if !self.is_known(&init.expr) {
            return;
        }
        let Some(name) = simple_binding(&local.pat) else {
            return;
        };
        if rebinds_or_formats(rest, &name) {
            return;
        }
        let lines = self.edits.whole_lines(range);
        self.edits.remove(lines);
        self.known.push(name);
    }

    /// A fn: its gate, its stubs and its `Enabled` extractor.
    fn rewrite_fn(
        &mut self,
        attrs: &[Attribute],
        sig: &Signature,
        block: &Block,
        range: Range<usize>,
        walk: impl FnOnce(&mut Self),
    ) {
        let test = attrs
            .iter()
            .any(|a| last_segment(a.path()).as_deref() == Some("test"));
        self.fns.push(Frame { test, doomed: None });
        // A nested fn does not see the variables of the fn around it.
        let known = std::mem::take(&mut self.known);
        walk(self);
        self.known = known;
        self.stub_attributes(attrs);
        let frame = self.fns.pop();
        let name = sig.ident.unraw().to_string();
        if let Some(why) = frame.and_then(|f| f.doomed) {
            let lines = self.edits.whole_lines(range.clone());
            self.edits.remove(lines);
            self.note(
                range.start,
                NoteKind::Removed,
                format!("removed test `{name}`: it {why}"),
            );
            return;
        }
        if let Some(marker) = &self.flag.marker {
            if takes_enabled(sig, marker) {
                if self.off() {
                    let lines = self.edits.whole_lines(range.clone());
                    self.edits.remove(lines);
                    self.note(
                        range.start,
                        NoteKind::Removed,
                        format!("removed handler `{name}`: it takes `Enabled<{marker}>`, which no request has any more; its routes go too"),
                    );
                    return;
                }
                self.remove_enabled(sig, marker);
            }
        }
        if let Some((attr, fallback)) = self.our_gate(attrs) {
            if self.off() {
                self.disable(sig, block, fallback.as_ref());
            }
            let lines = self.edits.attribute_lines(self.edits.range(attr));
            self.edits.remove(lines);
        }
    }

    /// `#[flags::stub(x = ..)]`: the kept value is no stub any more; another is a test of
    /// code that goes.
    fn stub_attributes(&mut self, attrs: &[Attribute]) {
        for attr in attrs {
            if last_segment(attr.path()).as_deref() != Some("stub") {
                continue;
            }
            let Ok(items) =
                attr.parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated)
            else {
                continue;
            };
            let names: Vec<String> = items
                .iter()
                .map(|i| {
                    i.path
                        .get_ident()
                        .map_or(String::new(), |n| n.unraw().to_string())
                })
                .collect();
            let Some(index) = names.iter().position(|n| *n == self.flag.accessor) else {
                continue;
            };
            let at = self.edits.range(attr).start;
            match self.is_kept_value(&items[index].value) {
                Some(true) => {
                    let others = names
                        .iter()
                        .filter(|n| **n != self.flag.accessor && *n != "flags")
                        .count();
                    if others == 0 {
                        let lines = self.edits.attribute_lines(self.edits.range(attr));
                        self.edits.remove(lines);
                    } else {
                        let ranges: Vec<Range<usize>> =
                            items.iter().map(|i| self.edits.range(i)).collect();
                        self.edits.remove(list_item(&ranges, index));
                    }
                }
                Some(false) => {
                    let value = self.render(&items[index].value);
                    self.doom(at, format!("stubs the flag to `{value}`"));
                }
                None => self.left(
                    at,
                    "stubs the flag to a value that is not written out: set it to the kept value or remove the stub",
                ),
            }
        }
    }

    /// With the flag on, the `Enabled<XFeature>` parameters go: every request has it.
    fn remove_enabled(&mut self, sig: &Signature, marker: &str) {
        let ranges: Vec<Range<usize>> = sig.inputs.iter().map(|i| self.edits.range(i)).collect();
        let gated: Vec<usize> = sig
            .inputs
            .iter()
            .enumerate()
            .filter(
                |(_, input)| matches!(input, FnArg::Typed(typed) if is_enabled(&typed.ty, marker)),
            )
            .map(|(index, _)| index)
            .collect();
        for index in gated {
            self.edits.remove(list_item(&ranges, index));
        }
    }

    /// With the flag off, a gated fn does what the gate did: call the fallback with the same
    /// arguments, or return `FeatureDisabled`.
    fn disable(&mut self, sig: &Signature, block: &Block, fallback: Option<&syn::Path>) {
        let mut arguments = Vec::new();
        for (position, input) in sig.inputs.iter().enumerate() {
            match input {
                FnArg::Receiver(_) => arguments.push("self".to_owned()),
                FnArg::Typed(typed) => {
                    let pattern = self.edits.range(&*typed.pat);
                    let plain = match &*typed.pat {
                        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                            Some(p.ident.unraw().to_string())
                        }
                        _ => None,
                    };
                    match (fallback, plain) {
                        (Some(_), Some(name)) => {
                            self.edits.replace(pattern, name.clone());
                            arguments.push(name);
                        }
                        // A pattern is passed on whole, under a name of its own.
                        (Some(_), None) => {
                            let name = format!("argument_{position}");
                            self.edits.replace(pattern, name.clone());
                            arguments.push(name);
                        }
                        (None, Some(name)) if name.starts_with('_') => {}
                        (None, Some(name)) => {
                            self.edits.replace(pattern, format!("_{name}"));
                        }
                        (None, None) => {
                            self.edits.replace(pattern, "_");
                        }
                    }
                }
            }
        }
        let call = match fallback {
            Some(path) => {
                let awaited = if sig.asyncness.is_some() {
                    ".await"
                } else {
                    ""
                };
                format!("{}({}){awaited}", self.render(path), arguments.join(", "))
            }
            None => {
                let output: String = self
                    .render(&sig.output)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let into = if output.ends_with("FeatureDisabled>") {
                    ""
                } else {
                    ".into()"
                };
                let path = if self.imports_disabled {
                    "FeatureDisabled"
                } else {
                    "flags::FeatureDisabled"
                };
                format!("Err({path}::new({:?}){into})", self.flag.key)
            }
        };
        let range = self.edits.range(block);
        let indent = self.edits.indent_at(range.start).to_owned();
        self.edits
            .replace(range, format!("{{\n{indent}    {call}\n{indent}}}"));
    }
}

impl<'ast> Visit<'ast> for Rewriter<'_, '_> {
    fn visit_item_fn(&mut self, item: &'ast ItemFn) {
        let range = self.edits.range(item);
        self.rewrite_fn(&item.attrs, &item.sig, &item.block, range, |v| {
            visit::visit_item_fn(v, item)
        });
    }

    fn visit_impl_item_fn(&mut self, item: &'ast ImplItemFn) {
        let range = self.edits.range(item);
        self.rewrite_fn(&item.attrs, &item.sig, &item.block, range, |v| {
            visit::visit_impl_item_fn(v, item)
        });
    }

    fn visit_block(&mut self, block: &'ast Block) {
        let known = self.known.len();
        let routers = self.routers.len();
        let count = block.stmts.len();
        for (index, stmt) in block.stmts.iter().enumerate() {
            let last = index + 1 == count;
            let place = Place::Stmt {
                last,
                tail: last && matches!(stmt, Stmt::Expr(_, None)),
            };
            let range = self.edits.range(stmt);
            match stmt {
                Stmt::Local(local) => self.rewrite_local(local, &block.stmts[index + 1..]),
                Stmt::Expr(Expr::If(expr), _) => self.rewrite_if(expr, place, range),
                Stmt::Expr(Expr::Match(expr), _) => self.rewrite_match(expr, place, range),
                Stmt::Expr(Expr::ForLoop(expr), _) => self.rewrite_each(expr, place, range),
                Stmt::Expr(expr @ Expr::Macro(mac), _) => {
                    self.visit_expr(expr);
                    self.rewrite_assert(&mac.mac, range);
                }
                Stmt::Macro(stmt) => {
                    self.visit_macro(&stmt.mac);
                    self.rewrite_assert(&stmt.mac, range);
                }
                other => self.visit_stmt(other),
            }
        }
        self.known.truncate(known);
        self.routers.truncate(routers);
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::If(inner) => self.rewrite_if(inner, Place::Expr, self.edits.range(expr)),
            Expr::Match(inner) => self.rewrite_match(inner, Place::Expr, self.edits.range(expr)),
            _ => {
                visit::visit_expr(self, expr);
                self.after_expr(expr);
            }
        }
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        if last_segment(&mac.path).as_deref() == Some("declare") {
            return;
        }
        let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) else {
            return;
        };
        let mut formats = false;
        for arg in &args {
            self.visit_expr(arg);
            // A format's argument: a variant shows as its name.
            if let (true, Kept::Variant { name, .. }, true) =
                (formats, &self.flag.kept, self.is_known(arg))
            {
                let range = self.edits.range(arg);
                self.edits.replace(range, format!("{name:?}"));
            }
            formats |= matches!(arg, Expr::Lit(lit) if matches!(lit.lit, Lit::Str(_)));
        }
    }
}

/// `v` or `v: T` (not `mut`, not `ref`).
fn simple_binding(pattern: &Pat) -> Option<String> {
    match pattern {
        Pat::Ident(ident)
            if ident.by_ref.is_none() && ident.mutability.is_none() && ident.subpat.is_none() =>
        {
            Some(ident.ident.unraw().to_string())
        }
        Pat::Type(typed) => simple_binding(&typed.pat),
        _ => None,
    }
}

/// Whether `stmts` bind `name` again, or a macro among them uses it in a way that cannot be
/// rewritten (`format!("{name}")`, a macro that is not a list of expressions).
fn rebinds_or_formats(stmts: &[Stmt], name: &str) -> bool {
    struct Finder<'n> {
        name: &'n str,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.found |= pat.ident.unraw() == self.name;
            visit::visit_pat_ident(self, pat);
        }
        fn visit_macro(&mut self, mac: &'ast Macro) {
            match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
                Ok(args) => {
                    for arg in &args {
                        if let Expr::Lit(lit) = arg {
                            if let Lit::Str(text) = &lit.lit {
                                self.found |= inline_argument(&text.value(), self.name);
                            }
                        }
                        self.visit_expr(arg);
                    }
                }
                Err(_) => self.found |= tokens_mention(mac.tokens.clone(), self.name),
            }
        }
    }
    let mut finder = Finder { name, found: false };
    for stmt in stmts {
        finder.visit_stmt(stmt);
    }
    finder.found
}

/// `{name}` or `{name:?}` in a format string.
fn inline_argument(format: &str, name: &str) -> bool {
    format
        .match_indices(&format!("{{{name}"))
        .any(|(at, found)| format[at + found.len()..].starts_with(['}', ':']))
}

fn tokens_mention(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => tokens_mention(group.stream(), name),
        TokenTree::Literal(literal) => inline_argument(&literal.to_string(), name),
        TokenTree::Punct(_) => false,
    })
}

/// Whether `code` names `name` anywhere, as a word.
pub(crate) fn mentions(code: &str, name: &str) -> bool {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word == name)
}

/// Whether evaluating `expr` can do nothing but read: literals, paths, fields, references and
/// operators over those. A call, a method call, an index (which may panic) or a macro may do
/// more.
fn is_pure(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(inner) => is_pure(&inner.expr),
        Expr::Field(field) => is_pure(&field.base),
        Expr::Reference(reference) => is_pure(&reference.expr),
        Expr::Unary(unary) => is_pure(&unary.expr),
        Expr::Binary(binary) => is_pure(&binary.left) && is_pure(&binary.right),
        _ => false,
    }
}

/// `break` or `continue` of the loop itself (not of loops or closures inside it).
fn has_loop_control(block: &Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_break(&mut self, expr: &'ast syn::ExprBreak) {
            self.0 |= expr.label.is_none();
        }
        fn visit_expr_continue(&mut self, expr: &'ast syn::ExprContinue) {
            self.0 |= expr.label.is_none();
        }
        fn visit_expr_for_loop(&mut self, _: &'ast ExprForLoop) {}
        fn visit_expr_while(&mut self, _: &'ast syn::ExprWhile) {}
        fn visit_expr_loop(&mut self, _: &'ast syn::ExprLoop) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
}

/// Expressions that end a statement without a `;`.
fn is_block_like(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::If(_)
            | Expr::Match(_)
            | Expr::Block(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
    )
}

/// The range to remove to take item `index` out of a comma-separated list whose items are
/// at `ranges`: up to the next item, or from the end of the one before.
pub(crate) fn list_item(ranges: &[Range<usize>], index: usize) -> Range<usize> {
    match (ranges.get(index), ranges.get(index + 1)) {
        (Some(item), Some(next)) => item.start..next.start,
        (Some(item), None) if index > 0 => ranges[index - 1].end..item.end,
        (Some(item), None) => item.clone(),
        (None, _) => 0..0,
    }
}

/// The handlers a method router names: `get(a).post(b)`.
fn handler_names(expr: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    let mut expr = strip_parens(expr);
    loop {
        match expr {
            Expr::MethodCall(call) => {
                names.extend(call.args.last().and_then(path_name));
                expr = strip_parens(&call.receiver);
            }
            Expr::Call(call) => {
                names.extend(call.args.last().and_then(path_name));
                break;
            }
            _ => break,
        }
    }
    names
}

fn path_name(expr: &Expr) -> Option<String> {
    match strip_parens(expr) {
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string()),
        _ => None,
    }
}

/// Whether `sig` takes `Enabled<marker>`.
fn takes_enabled(sig: &Signature, marker: &str) -> bool {
    sig.inputs
        .iter()
        .any(|input| matches!(input, FnArg::Typed(typed) if is_enabled(&typed.ty, marker)))
}

/// `Enabled<XFeature>` (or `flags::axum::Enabled<XFeature>`).
fn is_enabled(ty: &Type, marker: &str) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Enabled" && generic_names(last, marker)),
        Type::Paren(inner) => is_enabled(&inner.elem, marker),
        _ => false,
    }
}

/// Whether a segment's one generic argument is the type `name`: `new::<XFeature>`.
fn generic_names(segment: &syn::PathSegment, name: &str) -> bool {
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return false;
    };
    match arguments.args.first() {
        Some(syn::GenericArgument::Type(Type::Path(ty))) => {
            ty.path.segments.last().is_some_and(|s| s.ident == name)
        }
        _ => false,
    }
}

/// The names a `use` tree brings in (renamed ones by their new name).
pub(crate) fn use_names(tree: &syn::UseTree) -> Vec<String> {
    match tree {
        syn::UseTree::Path(path) => use_names(&path.tree),
        syn::UseTree::Name(name) => vec![name.ident.unraw().to_string()],
        syn::UseTree::Rename(rename) => vec![rename.rename.unraw().to_string()],
        syn::UseTree::Glob(_) => Vec::new(),
        syn::UseTree::Group(group) => group.items.iter().flat_map(use_names).collect(),
    }
}

fn strip_pat_parens(mut pattern: &Pat) -> &Pat {
    while let Pat::Paren(inner) = pattern {
        pattern = &inner.pat;
    }
    pattern
}
