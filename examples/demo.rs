//! The demo application: what each flag of `flags.toml` is in every environment, what it is
//! now and why, and two gated handlers.
//!
//! ```sh
//! cargo run --example demo
//! APP_ENV=production FLAGS_NEW_FEATURE_ENABLED=true cargo run --example demo
//! ```

use flags::{FeatureDisabled, feature_gate};

flags::declare!();

/// A user of the application; targeting reads its fields as attributes.
#[derive(flags::EvaluationContext)]
struct User {
    #[flags(key)]
    id: String,
    email: String,
}

/// The redesigned checkout while `new_feature_enabled` is on; the old one otherwise.
#[feature_gate("new_feature_enabled", fallback = legacy_checkout)]
fn checkout(items: &[u32]) -> String {
    let total: u32 = items.iter().sum();
    format!(
        "new checkout ({} flow), total {total}",
        Flags::checkout_flow()
    )
}

fn legacy_checkout(items: &[u32]) -> String {
    let total: u32 = items.iter().sum();
    format!("legacy checkout, total {total}")
}

/// Comments on a task, only while `product-TASKS-103-comments` is on.
#[feature_gate("product-TASKS-103-comments")]
fn task_comments(task: u32) -> Result<Vec<String>, FeatureDisabled> {
    Ok(vec![
        format!("task {task}: looks good"),
        format!("task {task}: shipped"),
    ])
}

fn main() {
    let runtime = Flags::runtime();
    match Flags::init() {
        Ok(report) => {
            println!("environment: {}", report.environment().unwrap_or("none"));
            for problem in report.problems() {
                println!("problem: {problem}");
            }
        }
        Err(error) => {
            println!("error: {error}");
            println!("environment: none (every flag serves its default, plus overrides)");
        }
    }
    println!();

    let environments = runtime.catalog().environments().names();
    let mut header = vec!["flag".to_owned()];
    header.extend(environments.iter().cloned());
    header.extend(["now".to_owned(), "decided by".to_owned()]);
    let mut rows = vec![header];
    for info in runtime.flags() {
        let flag = info.flag();
        let mut row = vec![flag.key().to_owned()];
        row.extend(
            (0..environments.len()).map(|index| show(&flag.setting_in(Some(index)).to_string())),
        );
        row.push(show(&info.value().to_string()));
        row.push(info.reason().to_string());
        rows.push(row);
    }
    print_table(&rows);
    println!();

    // Targeted flags are evaluated for a user: here the application's own type.
    let users = [
        User {
            id: "u-1".into(),
            email: "ada@example.com".into(),
        },
        User {
            id: "u-2".into(),
            email: "bob@customer.io".into(),
        },
    ];
    for user in &users {
        let comments = Flags::product_tasks_103_comments_details(user);
        println!(
            "comments for {}: {} ({})",
            user.email, comments.value, comments.reason
        );
    }
    println!();

    println!("checkout: {}", checkout(&[12, 30]));
    match task_comments(103) {
        Ok(comments) => println!("task comments: {}", comments.join("; ")),
        Err(disabled) => println!("task comments: {disabled}"),
    }
}

/// Empty strings are shown as `""`, so that they are visible in the table.
fn show(value: &str) -> String {
    if value.is_empty() {
        "\"\"".to_owned()
    } else {
        value.to_owned()
    }
}

fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
