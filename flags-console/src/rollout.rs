//! The override the rollout control writes. Where the environment's setting has rules (staff
//! first, then beta testers, in `flags.toml` or in the store), the override keeps them and
//! changes only the share of everyone else: the setting is copied whole, its fallthrough made
//! `rollout = N`, with its `group` and `bucket_by`, so that raising it only adds users.

use toml_edit::{DocumentMut, Item, Table, value};

/// The simplest override: the environment's setting becomes a rollout of `percent`% `true`,
/// taking `group` and `bucket_by` from `flags.toml`.
pub(crate) fn plain(key: &str, percent: u32) -> String {
    written(key, Table::new(), percent)
}

/// The setting at `flags.<key>.<table>` of `text` (the first of `tables` it has), as an override
/// of the store (`[flags.<key>.value]`) whose fallthrough is `percent`% `true`; its rules,
/// their names, `group` and `bucket_by` stay as they are. `Err` says why `text` has no such
/// setting.
pub(crate) fn keeping_rules(
    text: &str,
    key: &str,
    tables: &[&str],
    percent: u32,
) -> Result<String, String> {
    let document: DocumentMut = text
        .parse()
        .map_err(|error| format!("it cannot be read as TOML: {error}"))?;
    let flag = document
        .get("flags")
        .and_then(|flags| flags.get(key))
        .ok_or_else(|| format!("it has no table for flag `{key}`"))?;
    let setting = tables
        .iter()
        .find_map(|table| flag.get(table).and_then(Item::as_table_like))
        .ok_or_else(|| format!("it has no targeting of flag `{key}` to change"))?;
    let mut targeting = Table::new();
    for (name, item) in setting.iter() {
        // The fallthrough is what changes: one value, or the rollout, goes.
        if name != "serve" && name != "rollout" {
            targeting.insert(name, item.clone());
        }
    }
    Ok(written(key, targeting, percent))
}

/// `[flags.<key>.value]`: `targeting` with `rollout = percent`.
fn written(key: &str, mut targeting: Table, percent: u32) -> String {
    targeting.insert("rollout", value(i64::from(percent)));
    let mut entry = Table::new();
    entry.set_implicit(true);
    entry.insert("value", Item::Table(targeting));
    let mut flags = Table::new();
    flags.set_implicit(true);
    flags.insert(key, Item::Table(entry));
    let mut document = DocumentMut::new();
    document.insert("flags", Item::Table(flags));
    document.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS_TOML: &str = r#"
[flags."product-TASKS-103-comments"]
description = "Comments on tasks"
default = false

# Staff first.
[[flags."product-TASKS-103-comments".production.rules]]
name = "staff"
when = [{ segment = "internal" }]
serve = true

[[flags."product-TASKS-103-comments".production.rules]]
name = "beta testers"
when = [{ segment = "beta" }]
serve = true

[flags."product-TASKS-103-comments".staging]
serve = false
group = "comments-2026"
"#;

    #[test]
    fn the_rules_stay_and_the_fallthrough_becomes_the_rollout() {
        let text = keeping_rules(
            FLAGS_TOML,
            "product-TASKS-103-comments",
            &["value", "production"],
            10,
        )
        .expect("production has rules");
        let document: DocumentMut = text.parse().expect("TOML");
        let targeting = &document["flags"]["product-TASKS-103-comments"]["value"];
        assert_eq!(targeting["rollout"].as_integer(), Some(10), "{text}");
        let rules = targeting["rules"].as_array_of_tables().expect("rules");
        let names: Vec<_> = rules.iter().map(|r| r["name"].as_str()).collect();
        assert_eq!(names, [Some("staff"), Some("beta testers")], "{text}");
        assert!(!text.contains("production"), "{text}");
        assert!(!text.contains("description"), "only the setting: {text}");
    }

    #[test]
    fn a_served_value_gives_way_and_the_group_stays() {
        let text = keeping_rules(FLAGS_TOML, "product-TASKS-103-comments", &["staging"], 40)
            .expect("staging has a setting");
        let document: DocumentMut = text.parse().expect("TOML");
        let targeting = &document["flags"]["product-TASKS-103-comments"]["value"];
        assert_eq!(targeting["rollout"].as_integer(), Some(40));
        assert_eq!(targeting["group"].as_str(), Some("comments-2026"));
        assert!(targeting.get("serve").is_none(), "{text}");
    }

    #[test]
    fn without_rules_the_override_is_the_rollout_alone() {
        assert_eq!(
            plain("new_feature_enabled", 25),
            "[flags.new_feature_enabled.value]\nrollout = 25\n"
        );
        assert_eq!(plain("a.b", 5), "[flags.\"a.b\".value]\nrollout = 5\n");
    }

    #[test]
    fn a_text_without_the_setting_says_so() {
        let no_flag = keeping_rules(FLAGS_TOML, "other", &["production"], 1).unwrap_err();
        assert!(no_flag.contains("no table for flag `other`"), "{no_flag}");
        let no_setting =
            keeping_rules(FLAGS_TOML, "product-TASKS-103-comments", &["qa"], 1).unwrap_err();
        assert!(no_setting.contains("no targeting"), "{no_setting}");
        assert!(keeping_rules("[flags", "x", &["value"], 1).is_err());
    }
}
