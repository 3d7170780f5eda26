//! The announcement of a change, carried on the environment's channel so that followers
//! apply the change itself instead of reading the whole store again: a change of segment
//! keys, or of one flag's override (a kill switch costs what it changes, however many keys
//! the segments hold).
//!
//! ```text
//! flags-delta 1          the format                    flags-override 1
//! 3f1c…                  the store's identity          3f1c…
//! 42                     the version the change made   43
//! beta                   the segment                   search_enabled
//! +                      added (`-` removed)           = (set; `x` removed)
//! 5:u-123 3:u-7          each key, as its length in    value = false
//!                        bytes, `:` and its bytes      (the entry's text, to the end)
//! ```
//!
//! Any other message (`changed`, an older writer's) makes a follower read the store.

/// The first line of a change of segment keys announced this way.
const HEADER: &str = "flags-delta 1";
/// The first line of a change of an override announced this way.
const OVERRIDE_HEADER: &str = "flags-override 1";

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

/// A change of one flag's override: the entry's new text, or `None` when it was removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OverrideDelta {
    pub(super) identity: String,
    pub(super) version: u64,
    pub(super) flag: String,
    pub(super) entry: Option<String>,
}

impl OverrideDelta {
    /// The announcement's text.
    pub(super) fn encode(&self) -> String {
        let (sign, text) = match &self.entry {
            Some(text) => ("=", text.as_str()),
            None => ("x", ""),
        };
        format!(
            "{OVERRIDE_HEADER}\n{}\n{}\n{}\n{sign}\n{text}",
            self.identity, self.version, self.flag
        )
    }

    /// An announcement read back; `None` for anything that is not one.
    pub(super) fn parse(message: &[u8]) -> Option<OverrideDelta> {
        let text = std::str::from_utf8(message).ok()?;
        let mut lines = text.splitn(6, '\n');
        if lines.next()? != OVERRIDE_HEADER {
            return None;
        }
        let identity = lines.next()?.to_owned();
        let version = lines.next()?.parse().ok()?;
        let flag = lines.next()?.to_owned();
        let sign = lines.next()?;
        let rest = lines.next()?;
        let entry = match sign {
            "=" => Some(rest.to_owned()),
            "x" if rest.is_empty() => None,
            _ => return None,
        };
        Some(OverrideDelta {
            identity,
            version,
            flag,
            entry,
        })
    }
}

/// Any change a follower can apply as announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Announcement {
    Members(Delta),
    Override(OverrideDelta),
}

impl Announcement {
    /// The announcement in `message`; `None` for one to answer by reading the store.
    pub(super) fn parse(message: &[u8]) -> Option<Announcement> {
        Delta::parse(message)
            .map(Announcement::Members)
            .or_else(|| OverrideDelta::parse(message).map(Announcement::Override))
    }

    /// The identity of the store the change was made to, and the version it made.
    pub(super) fn made(&self) -> (&str, u64) {
        match self {
            Announcement::Members(delta) => (&delta.identity, delta.version),
            Announcement::Override(change) => (&change.identity, change.version),
        }
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

    #[test]
    fn override_announcements_read_back_whatever_the_entry_holds() {
        let set = OverrideDelta {
            identity: "3f1c".into(),
            version: 43,
            flag: "search_enabled".into(),
            entry: Some("value = false\n[production]\nvalue = \"x\ny\"\n".into()),
        };
        let removed = OverrideDelta {
            entry: None,
            ..set.clone()
        };
        let empty = OverrideDelta {
            entry: Some(String::new()),
            ..set.clone()
        };
        for change in [set.clone(), removed, empty] {
            assert_eq!(
                Announcement::parse(change.encode().as_bytes()),
                Some(Announcement::Override(change.clone()))
            );
        }
        for message in [
            "flags-override 1\ni\n1\nflag\nx\nleft over",
            "flags-override 1\ni\nseven\nflag\n=\nvalue = 1",
            "flags-override 1\ni\n1\nflag\n?\n",
            "flags-override 2\ni\n1\nflag\n=\nvalue = 1",
        ] {
            assert_eq!(Announcement::parse(message.as_bytes()), None, "{message:?}");
        }
        let text = set.encode();
        for cut in 0..text.len() {
            let _ = Announcement::parse(&text.as_bytes()[..cut]);
        }
    }

    #[test]
    fn any_message_is_refused_or_read_as_what_it_encodes_back_to() {
        // Seeded byte changes of valid announcements: never a panic, and whatever is read
        // says the same when announced again.
        let seeds = [
            delta_text(),
            OverrideDelta {
                identity: "i".into(),
                version: 9,
                flag: "f".into(),
                entry: Some("value = 1\n".into()),
            }
            .encode(),
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let bytes = b"\n:+-=x0123456789ab\xff\xc3";
        for round in 0..5_000 {
            let mut message = seeds[round % seeds.len()].clone().into_bytes();
            for _ in 0..=(next() % 3) {
                let at = (next() % (message.len() as u64 + 1)) as usize;
                let byte = bytes[(next() % bytes.len() as u64) as usize];
                match next() % 3 {
                    0 if at < message.len() => message[at] = byte,
                    1 if at < message.len() => {
                        message.remove(at);
                    }
                    _ => message.insert(at.min(message.len()), byte),
                }
            }
            if let Some(read) = Announcement::parse(&message) {
                let again = match &read {
                    Announcement::Members(delta) => delta.encode(),
                    Announcement::Override(change) => change.encode(),
                };
                assert_eq!(Announcement::parse(again.as_bytes()), Some(read));
            }
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
