//! What a rewrite leaves unused: imports, and private fns whose last use went with the
//! flag. Only names whose uses the rewrite removed are candidates, so code that was unused
//! before stays as it was.

use std::collections::HashMap;

use syn::ext::IdentExt;
use syn::visit::{self, Visit};
use syn::{FnArg, ImplItemFn, Item, ItemFn, ItemMod, ItemUse, Pat, Signature, UseTree, Visibility};

use crate::rewrite::{list_item, use_names};
use crate::rewrite_text::{Edits, parsed_start};

/// Rounds of tidying at most: a fn removed can leave another unused, and an import.
const ROUNDS: usize = 4;

/// Attributes a fn may have and still be removed when unused: none that gives it a use of
/// its own (`#[test]`, `#[no_mangle]`, `#[tokio::main]`...).
const PLAIN_ATTRIBUTES: [&str; 7] = [
    "doc", "allow", "expect", "warn", "inline", "must_use", "cfg",
];

/// Tidies `new` (the rewritten text of each file, whose text before was `old`); returns,
/// per file, the fns it removed.
pub(crate) fn tidy(old: &[&str], new: &mut [String]) -> Vec<Vec<String>> {
    let before: Vec<HashMap<&str, usize>> = old.iter().map(|text| words(text)).collect();
    let mut removed = vec![Vec::new(); new.len()];
    for _ in 0..ROUNDS {
        let counts: Vec<HashMap<String, usize>> = new
            .iter()
            .map(|text| {
                words(text)
                    .into_iter()
                    .map(|(w, n)| (w.to_owned(), n))
                    .collect()
            })
            .collect();
        let fewer = |file: usize, name: &str| {
            let was = before[file].get(name).copied().unwrap_or(0);
            counts[file].get(name).copied().unwrap_or(0) < was
        };
        let round: Vec<String> = new.to_vec();
        let total = |name: &str| -> usize { round.iter().map(|text| uses(text, name)).sum() };
        let mut changed = false;
        for file in 0..new.len() {
            let text = new[file].clone();
            let base = parsed_start(&text);
            let Ok(parsed) = crate::scan::parse_file(&text[base..]) else {
                continue;
            };
            let mut edits = Edits::new(&text, base);
            let mut finder = Items {
                base,
                ..Items::default()
            };
            finder.visit_file(&parsed);
            // Names the code uses outside `use` items; comments do not count: rustc does
            // not count them either.
            let code = identifiers(&text[base..]);
            let mut in_uses: HashMap<String, usize> = HashMap::new();
            for item in &finder.uses {
                for (word, n) in identifiers(&text[edits.range(*item)]) {
                    *in_uses.entry(word).or_default() += n;
                }
            }
            let unused = |name: &str| {
                let all = code.get(name).copied().unwrap_or(0);
                fewer(file, name) && all <= in_uses.get(name).copied().unwrap_or(0)
            };
            for item in &finder.uses {
                if prune(&mut edits, &item.tree, &unused) {
                    let lines = edits.whole_lines(edits.range(*item));
                    edits.remove(lines);
                }
            }
            // Parameters only the removed code read: `_name`, as rustc asks.
            for (sig, item) in &finder.signatures {
                let item_text = &text[item.clone()];
                for input in &sig.inputs {
                    let FnArg::Typed(typed) = input else {
                        continue;
                    };
                    let Pat::Ident(binding) = &*typed.pat else {
                        continue;
                    };
                    let name = binding.ident.unraw().to_string();
                    let alone = words(item_text).get(name.as_str()) == Some(&1);
                    if alone
                        && !name.starts_with('_')
                        && binding.subpat.is_none()
                        && fewer(file, &name)
                    {
                        edits.replace(edits.range(&*typed.pat), format!("_{name}"));
                    }
                }
            }
            // A test module whose tests all went.
            for module in &finder.test_mods {
                let emptied = module
                    .content
                    .as_ref()
                    .is_some_and(|(_, items)| items.iter().all(|i| matches!(i, Item::Use(_))));
                if emptied {
                    let lines = edits.whole_lines(edits.range(*module));
                    edits.remove(lines);
                }
            }
            for function in &finder.fns {
                let name = function.sig.ident.unraw().to_string();
                let anyone_fewer = (0..new.len()).any(|f| fewer(f, &name));
                // Its name in its own text (the signature, `axum::serve` in its body) is no use.
                let own = uses(&text[edits.range(*function)], &name);
                if anyone_fewer && total(&name) <= own && name != "main" {
                    let lines = edits.whole_lines(edits.range(*function));
                    if edits.remove(lines) {
                        removed[file].push(name);
                    }
                }
            }
            // A private method is called as `.name(..)` or named as `Self::name`.
            for method in &finder.methods {
                let name = method.sig.ident.unraw().to_string();
                let called = |text: &String| {
                    text.contains(&format!(".{name}(")) || text.contains(&format!("::{name}"))
                };
                let anyone_fewer = (0..new.len()).any(|f| fewer(f, &name));
                if anyone_fewer && !new.iter().any(called) {
                    let lines = edits.whole_lines(edits.range(*method));
                    if edits.remove(lines) {
                        removed[file].push(name);
                    }
                }
            }
            if !edits.is_empty() {
                new[file] = edits.apply();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    removed
}

/// Removes the names of `tree` that `unused` says are unused; `true` when all of it is.
fn prune(edits: &mut Edits<'_>, tree: &UseTree, unused: &dyn Fn(&str) -> bool) -> bool {
    match tree {
        UseTree::Path(path) => prune(edits, &path.tree, unused),
        UseTree::Name(_) | UseTree::Rename(_) => use_names(tree).iter().all(|n| unused(n)),
        UseTree::Glob(_) => false,
        UseTree::Group(group) => {
            let ranges: Vec<_> = group.items.iter().map(|i| edits.range(i)).collect();
            let gone: Vec<bool> = group
                .items
                .iter()
                .map(|item| prune(edits, item, unused))
                .collect();
            if gone.iter().all(|g| *g) {
                return true;
            }
            for (index, _) in gone.iter().enumerate().filter(|(_, g)| **g) {
                edits.remove(list_item(&ranges, index));
            }
            // One name left on one line: without its braces, as rustfmt writes it.
            let kept: Vec<usize> = (0..gone.len()).filter(|i| !gone[*i]).collect();
            let whole = edits.range(group);
            if let [only] = kept[..] {
                let single_line = !edits.text()[whole.clone()].contains('\n');
                let simple = !matches!(group.items[only], UseTree::Group(_));
                if single_line && simple && gone.len() > 1 {
                    let text = edits.render(ranges[only].clone());
                    edits.replace(whole, text);
                }
            }
            false
        }
    }
}

/// The `use` items, the private plain fns, the signatures and the test modules of a file,
/// in modules too.
#[derive(Default)]
struct Items<'ast> {
    uses: Vec<&'ast ItemUse>,
    fns: Vec<&'ast ItemFn>,
    /// Private, plain methods of inherent impls.
    methods: Vec<&'ast ImplItemFn>,
    /// Each fn's signature, and the range of the whole fn.
    signatures: Vec<(&'ast Signature, std::ops::Range<usize>)>,
    test_mods: Vec<&'ast ItemMod>,
    /// Where the parsed text starts, for the ranges.
    base: usize,
}

impl<'ast> Items<'ast> {
    /// A fn's signature, with the range from it to the end of the body (attributes and docs
    /// left out: they may name a parameter without using it).
    fn signature(&mut self, sig: &'ast Signature, block: &'ast syn::Block) {
        let start = syn::spanned::Spanned::span(sig).byte_range().start;
        let end = syn::spanned::Spanned::span(block).byte_range().end;
        self.signatures
            .push((sig, self.base + start..self.base + end));
    }
}

impl<'ast> Visit<'ast> for Items<'ast> {
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        for member in &item.items {
            if let (None, syn::ImplItem::Fn(method)) = (&item.trait_, member) {
                if plain(&method.attrs) && matches!(method.vis, Visibility::Inherited) {
                    self.methods.push(method);
                }
            }
        }
        visit::visit_item_impl(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast ImplItemFn) {
        self.signature(&item.sig, &item.block);
    }

    fn visit_item(&mut self, item: &'ast Item) {
        match item {
            Item::Use(item) => self.uses.push(item),
            Item::Impl(_) => visit::visit_item(self, item),
            Item::Fn(function) => {
                self.signature(&function.sig, &function.block);
                if plain(&function.attrs) && matches!(function.vis, Visibility::Inherited) {
                    self.fns.push(function);
                }
            }
            Item::Mod(module) => {
                let test = module.attrs.iter().any(|attr| {
                    attr.path().is_ident("cfg")
                        && attr
                            .parse_args::<syn::Ident>()
                            .is_ok_and(|ident| ident == "test")
                });
                if test {
                    self.test_mods.push(module);
                }
                visit::visit_item(self, item)
            }
            _ => {}
        }
    }
}

/// Whether every attribute is one of [`PLAIN_ATTRIBUTES`].
fn plain(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().all(|attr| {
        attr.path()
            .get_ident()
            .is_some_and(|name| PLAIN_ATTRIBUTES.iter().any(|p| name == p))
    })
}

/// How often `name` occurs in `text` as a word, but for paths into other modules
/// (`axum::serve` is not a use of a local `serve`; `self::serve` and `super::serve` are).
fn uses(text: &str, name: &str) -> usize {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name)
        .filter(|(at, _)| {
            let before = &text[..*at];
            let after = &text[at + name.len()..];
            if before.ends_with(word) || after.starts_with(word) {
                return false;
            }
            match before.strip_suffix("::") {
                Some(path) => {
                    let owner = path.rsplit(|c: char| !word(c)).next().unwrap_or("");
                    matches!(owner, "self" | "super" | "crate" | "Self" | "")
                }
                None => true,
            }
        })
        .count()
}

/// How often each identifier occurs in the code of `text` (comments left out; strings too,
/// but for the names a format string uses, `{name}`).
fn identifiers(text: &str) -> HashMap<String, usize> {
    fn walk(tokens: proc_macro2::TokenStream, counts: &mut HashMap<String, usize>) {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Ident(ident) => {
                    *counts.entry(ident.unraw().to_string()).or_default() += 1;
                }
                proc_macro2::TokenTree::Group(group) => walk(group.stream(), counts),
                proc_macro2::TokenTree::Literal(literal) => {
                    let text = literal.to_string();
                    if text.starts_with('"') {
                        for (word, n) in words(&text) {
                            if text.contains(&format!("{{{word}")) {
                                *counts.entry(word.to_owned()).or_default() += n;
                            }
                        }
                    }
                }
                proc_macro2::TokenTree::Punct(_) => {}
            }
        }
    }
    let mut counts = HashMap::new();
    if let Ok(tokens) = text.parse() {
        walk(tokens, &mut counts);
    }
    counts
}

/// How often each word (identifier-like run) occurs in `text`, comments and strings too,
/// so that a name mentioned anywhere counts as used.
fn words(text: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if !word.is_empty() {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_and_fns_left_unused_by_the_rewrite_go_and_nothing_else() {
        let old = "use a::{Gate, Layer};\nuse b::Other;\n\nfn helper() {}\n\nfn unused_before() {}\n\nfn main() {\n    helper();\n    Gate::new();\n    Layer::new();\n}\n";
        let mut new = vec![
            "use a::{Gate, Layer};\nuse b::Other;\n\nfn helper() {}\n\nfn unused_before() {}\n\nfn main() {\n    Layer::new();\n}\n"
                .to_owned(),
        ];
        let removed = tidy(&[old], &mut new);
        assert_eq!(removed, [vec!["helper".to_owned()]]);
        assert_eq!(
            new[0],
            "use a::Layer;\nuse b::Other;\n\nfn unused_before() {}\n\nfn main() {\n    Layer::new();\n}\n"
        );
    }
}
