//! Explain for one user: the context a person describes (a key, `name=value` attributes),
//! and the words for a trace's conditions. `flags explain` uses the same two functions.

use flags_model::{Condition, Operand, Test};
use flags_runtime::AttributeValue;

/// Reads an attribute as `flags explain --attr` takes it: `name=value` (`true`/`false`
/// become bools, numbers numbers, the rest strings) or typed, `name:str=..`, `name:num=..`,
/// `name:bool=..`, `name:list=a,b`. The error says what is wrong.
pub fn parse_attribute(text: &str) -> Result<(String, AttributeValue), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("write name=value, e.g. plan=pro".to_owned());
    };
    let (name, kind) = match name.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (name, None),
    };
    if name.is_empty() {
        return Err("the attribute has no name".to_owned());
    }
    let number = || value.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let value = match kind {
        None => match value {
            "true" | "false" => AttributeValue::Bool(value == "true"),
            _ => number().map_or_else(|| AttributeValue::from(value), AttributeValue::Number),
        },
        Some("str") => AttributeValue::from(value),
        Some("num") => AttributeValue::Number(number().ok_or("not a number")?),
        Some("bool") => match value {
            "true" | "false" => AttributeValue::Bool(value == "true"),
            _ => return Err("a bool is `true` or `false`".to_owned()),
        },
        Some("list") => AttributeValue::from(
            value
                .split(',')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect::<Vec<String>>(),
        ),
        Some(other) => {
            return Err(format!(
                "unknown kind `{other}`; kinds are str, num, bool and list"
            ));
        }
    };
    Ok((name.to_owned(), value))
}

/// A condition as it reads in flags.toml: `email ends_with "@example.com" (ignoring case)`.
pub fn describe_condition(condition: &Condition) -> String {
    let test = match &condition.test {
        Test::Segment { name, .. } => format!("in segment `{name}`"),
        Test::Now { op, at } => format!("now {} {at}", op.name().replace("now_", "")),
        Test::Attribute {
            attribute,
            op,
            ignore_case,
            operand,
        } => {
            let operand = match operand {
                Operand::None => String::new(),
                Operand::Strings(strings) => {
                    format!(" {}", list(strings.iter().map(|s| format!("{s:?}"))))
                }
                Operand::Numbers(numbers) => {
                    format!(" {}", list(numbers.iter().map(f64::to_string)))
                }
                Operand::Bool(b) => format!(" {b}"),
                Operand::Regex(regex) => format!(" {:?}", regex.as_str()),
                Operand::Semver(version) => format!(" {version}"),
                Operand::Time(time) => format!(" {time}"),
            };
            let case = if *ignore_case { " (ignoring case)" } else { "" };
            format!("{attribute} {op}{operand}{case}")
        }
    };
    if condition.negate {
        format!("not ({test})")
    } else {
        test
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match &items[..] {
        [one] => one.clone(),
        _ => format!("[{}]", items.join(", ")),
    }
}
