//! The announcement of a change of segment keys, carried on the environment's channel so
//! that followers apply the change itself instead of reading the whole store again.
//!
//! ```text
//! flags-delta 1          the format
//! 3f1c…                  the store's identity
//! 42                     the version the change made
//! beta                   the segment
//! +                      added (`-` removed)
//! 5:u-123 3:u-7          each key, as its length in bytes, `:` and its bytes
//! ```
//!
//! Any other message (`changed`, an older writer's) makes a follower read the store.

/// The first line of a change announced this way.
const HEADER: &str = "flags-delta 1";

/// The largest announcement sent: a larger change is announced as `changed`, and read.
pub(super) const MAX_ANNOUNCED: usize = 4 * 1024 * 1024;

/// A change of one segment's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Delta {
    pub(super) identity: String,
    pub(super) version: u64,
    pub(super) segment: String,
    pub(super) add: bool,
    pub(super) keys: Vec<String>,
}

impl Delta {
    /// The announcement's text.
    pub(super) fn encode(&self) -> String {
        let sign = if self.add { "+" } else { "-" };
        let mut text = format!(
            "{HEADER}\n{}\n{}\n{}\n{sign}\n",
            self.identity, self.version, self.segment
        );
        for key in &self.keys {
            text.push_str(&key.len().to_string());
            text.push(':');
            text.push_str(key);
        }
        text
    }

    /// An announcement read back; `None` for anything that is not one, or not whole.
    pub(super) fn parse(message: &[u8]) -> Option<Delta> {
        let text = std::str::from_utf8(message).ok()?;
        let mut lines = text.splitn(6, '\n');
        if lines.next()? != HEADER {
            return None;
        }
        let identity = lines.next()?.to_owned();
        let version = lines.next()?.parse().ok()?;
        let segment = lines.next()?.to_owned();
        let add = match lines.next()? {
            "+" => true,
            "-" => false,
            _ => return None,
        };
        let mut rest = lines.next()?;
        let mut keys = Vec::new();
        while !rest.is_empty() {
            let (length, after) = rest.split_once(':')?;
            let length: usize = length.parse().ok()?;
            let key = after.get(..length)?;
            keys.push(key.to_owned());
            rest = &after[length..];
        }
        Some(Delta {
            identity,
            version,
            segment,
            add,
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back_whatever_the_keys_hold() {
        let delta = Delta {
            identity: "3f1c".into(),
            version: 42,
            segment: "beta".into(),
            add: true,
            keys: vec![
                "u-1".into(),
                "with\nnewline".into(),
                "12:34".into(),
                String::new(),
                "é".into(),
            ],
        };
        assert_eq!(Delta::parse(delta.encode().as_bytes()), Some(delta.clone()));
        let removed = Delta {
            add: false,
            keys: vec![],
            ..delta
        };
        assert_eq!(Delta::parse(removed.encode().as_bytes()), Some(removed));
        for message in [
            "changed",
            "",
            "flags-delta 1\nx\n1\nbeta\n*\n",
            "flags-delta 1\nx\n1\nbeta\n+\n9:short",
        ] {
            assert_eq!(Delta::parse(message.as_bytes()), None, "{message:?}");
        }
        // Cut anywhere, an announcement is refused or read as what it says, never a panic.
        let text = delta_text();
        for cut in 0..text.len() {
            let _ = Delta::parse(&text.as_bytes()[..cut]);
        }
    }

    fn delta_text() -> String {
        Delta {
            identity: "i".into(),
            version: 7,
            segment: "s".into(),
            add: false,
            keys: vec!["ab".into(), "é".into()],
        }
        .encode()
    }
}
