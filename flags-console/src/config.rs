//! What the console is configured with: its access tokens and roles, and the webhooks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The shortest secret the console accepts: a token is a password nobody types twice, so it
/// can be long.
pub const MIN_SECRET_LEN: usize = 16;

/// What a token may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Changes the store of every environment.
    Editor,
    /// Changes the store of these environments only; sees the others.
    EditorOf(Vec<String>),
}

impl Role {
    /// Whether this role may change `environment`'s store.
    pub fn may_edit(&self, environment: &str) -> bool {
        match self {
            Role::Viewer => false,
            Role::Editor => true,
            Role::EditorOf(environments) => environments.iter().any(|e| e == environment),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Viewer => f.write_str("viewer"),
            Role::Editor => f.write_str("editor"),
            Role::EditorOf(environments) => write!(f, "editor of {}", environments.join(", ")),
        }
    }
}

/// An access token: who holds it (the name the audit log shows), its role and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Who holds it: shown in the audit log.
    pub name: String,
    /// What it may do.
    pub role: Role,
    secret: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// A token for `name` with `role`; `secret` must have at least [`MIN_SECRET_LEN`]
    /// characters.
    pub fn new(name: &str, role: Role, secret: &str) -> Result<Self, String> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!("`{name}` is not a token name: one word, please"));
        }
        if secret.chars().count() < MIN_SECRET_LEN {
            return Err(format!(
                "the secret of token `{name}` is shorter than {MIN_SECRET_LEN} characters"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            role,
            secret: secret.to_owned(),
        })
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// Reads tokens, one per line: `NAME ROLE SECRET`, where ROLE is `viewer`, `editor` or
    /// `editor:ENV,ENV`; blank lines and lines starting with `#` are skipped. `;` also ends
    /// a line, for an environment variable. `source` names the text in messages.
    pub fn parse_list(source: &str, text: &str) -> Result<Vec<Token>, String> {
        let mut tokens = Vec::new();
        for (number, line) in text.split(['\n', ';']).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{source}, entry {}", number + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, role, secret] = words[..] else {
                return Err(format!(
                    "{}: write `NAME ROLE SECRET` (ROLE: viewer, editor or editor:ENV,ENV)",
                    at()
                ));
            };
            let role = match role.split_once(':') {
                None if role == "viewer" => Role::Viewer,
                None if role == "editor" => Role::Editor,
                Some(("editor", environments)) if !environments.is_empty() => Role::EditorOf(
                    environments
                        .split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ),
                _ => {
                    return Err(format!(
                        "{}: unknown role `{role}`; roles are viewer, editor and editor:ENV,ENV",
                        at()
                    ));
                }
            };
            let token = Token::new(name, role, secret).map_err(|e| format!("{}: {e}", at()))?;
            if tokens.iter().any(|t: &Token| t.name == token.name) {
                return Err(format!("{}: token `{name}` is listed twice", at()));
            }
            tokens.push(token);
        }
        Ok(tokens)
    }
}

/// Which user identifier of an Intercom notification becomes the segment's context key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IntercomKey {
    /// The user's `user_id` (the application's own id): the default.
    #[default]
    UserId,
    /// The user's e-mail address.
    Email,
}

/// Intercom's webhook: `POST /webhooks/intercom`.
#[derive(Clone)]
pub struct Intercom {
    /// The app's client secret, which signs every notification (`X-Hub-Signature`).
    pub(crate) secret: String,
    /// The environment whose segments the tags change.
    pub environment: String,
    /// Tag name → segment.
    pub tags: BTreeMap<String, String>,
    /// Which identifier becomes the context key.
    pub key: IntercomKey,
    /// Notifications created longer ago than this are refused as replays.
    pub max_age: Duration,
}

impl fmt::Debug for Intercom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intercom")
            .field("environment", &self.environment)
            .field("tags", &self.tags)
            .field("key", &self.key)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Intercom {
    /// Notifications signed with `secret` change the segments of `environment`; no tag is
    /// mapped yet ([`Intercom::tag`]), the key is `user_id`, and notifications older than an
    /// hour are refused.
    pub fn new(secret: &str, environment: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            environment: environment.to_owned(),
            tags: BTreeMap::new(),
            key: IntercomKey::UserId,
            max_age: Duration::from_secs(3600),
        }
    }

    /// Users tagged `tag` in Intercom are added to `segment` (and removed when untagged).
    pub fn tag(mut self, tag: &str, segment: &str) -> Self {
        self.tags.insert(tag.to_owned(), segment.to_owned());
        self
    }

    /// Maps tags from `TAG=SEGMENT` (the tag may contain spaces and colons, not `=`).
    pub fn tag_mapping(self, mapping: &str) -> Result<Self, String> {
        match mapping.rsplit_once('=') {
            Some((tag, segment)) if !tag.trim().is_empty() && !segment.trim().is_empty() => {
                Ok(self.tag(tag.trim(), segment.trim()))
            }
            _ => Err(format!(
                "`{mapping}` is not a tag mapping: write TAG=SEGMENT, e.g. \"Beta: comments=beta\""
            )),
        }
    }

    /// Which identifier becomes the context key.
    pub fn key(mut self, key: IntercomKey) -> Self {
        self.key = key;
        self
    }

    /// Refuses notifications created longer ago than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_one_per_line_or_per_semicolon() {
        let tokens = Token::parse_list(
            "tokens",
            "# support\nada editor 0123456789abcdef\nbob viewer 0123456789abcdefg; carol editor:staging,development 0123456789abcdefgh",
        )
        .unwrap();
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens[0].role, Role::Editor);
        assert_eq!(tokens[1].role, Role::Viewer);
        assert!(tokens[2].role.may_edit("staging"));
        assert!(!tokens[2].role.may_edit("production"));
        assert!(
            !format!("{:?}", tokens[0]).contains("0123"),
            "no secret in Debug"
        );
        for bad in [
            "ada editor short",
            "ada admin 0123456789abcdef",
            "ada editor",
            "ada editor 0123456789abcdef\nada viewer 0123456789abcdef",
            "ada editor: 0123456789abcdef",
        ] {
            assert!(Token::parse_list("tokens", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_mappings_keep_spaces_and_colons() {
        let intercom = Intercom::new("secret", "production")
            .tag_mapping("Beta: comments=beta")
            .unwrap();
        assert_eq!(intercom.tags["Beta: comments"], "beta");
        assert!(Intercom::new("s", "p").tag_mapping("beta").is_err());
    }
}
