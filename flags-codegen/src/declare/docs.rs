//! What generated items say about their flag: doc comments, and the deprecation of a flag
//! past its `expires` date.

use flags_model::{Flag, Setting};

use super::Generator;
use super::code::string;

impl Generator<'_> {
    /// An accessor's doc comment: the flag's description, key, type, owner, ticket, expiry
    /// and value in each environment. One string rather than an attribute per line, as the
    /// generated code of a large `flags.toml` is mostly per-flag items like this one.
    pub(super) fn accessor_docs(&self, flag: &Flag) -> String {
        let mut docs = vec![format!(" {}", flag.description()), String::new()];
        docs.push(format!(
            " - Flag: `{}` ({}, line {})",
            flag.key(),
            self.location.display,
            flag.line()
        ));
        let rust_type = match flag.type_name() {
            Some(enum_name) => format!("[`{enum_name}`]"),
            None => format!("`{}`", flag.flag_type().rust_type()),
        };
        docs.push(format!(" - Type: {rust_type}"));
        if let Some(owner) = flag.owner() {
            docs.push(format!(" - Owner: {owner}"));
        }
        if let Some(ticket) = flag.ticket() {
            docs.push(format!(" - Ticket: {ticket}"));
        }
        if let Some(expires) = flag.expires() {
            let expired = if flag.is_expired(self.today) {
                " (expired: remove this flag)"
            } else {
                ""
            };
            docs.push(format!(" - Expires: {expires}{expired}"));
        }
        docs.push(format!(" - Default: `{}`", flag.default().to_toml()));
        for (index, environment) in self.catalog.environments().names().iter().enumerate() {
            match flag.environment_setting(index) {
                Some(Setting::Value(value)) => {
                    docs.push(format!(" - In `{environment}`: `{}`", value.to_toml()))
                }
                Some(Setting::Targeted(targeting)) => {
                    docs.push(format!(
                        " - In `{environment}`: targeted, {}",
                        targeting.summary()
                    ));
                }
                None => {}
            }
        }
        docs.push(format!(
            " - Override: environment variable `{}`",
            self.catalog.env_var(flag)
        ));
        docs.join("\n")
    }

    /// `#[deprecated]` for a flag past its `expires` date, as code.
    pub(super) fn deprecation(&self, flag: &Flag) -> String {
        let Some(expires) = flag.expires().filter(|_| flag.is_expired(self.today)) else {
            return String::new();
        };
        let mut who = Vec::new();
        if let Some(owner) = flag.owner() {
            who.push(format!("owner: {owner}"));
        }
        if let Some(ticket) = flag.ticket() {
            who.push(format!("ticket: {ticket}"));
        }
        let who = if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join(", "))
        };
        let note = format!(
            "flag `{}` is past its `expires` date, {expires}{who}; remove it from {} and from the code, or move the date",
            flag.key(),
            self.location.display
        );
        format!("#[deprecated(note = {})]", string(&note))
    }
}
