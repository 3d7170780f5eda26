//! `flags explain`: a flag's value for one context in one environment, and why, rule by rule.

use std::path::Path;
use std::process::ExitCode;

use flags_console::describe_condition;
use flags_model::Serve;
use flags_runtime::{AttributeValue, Context, Origin, Reason, Runtime, Trace, Vars};
use serde_json::json;

use crate::Failure;
use crate::list::environment;
use crate::output::{Format, Paint, json_value, print_json, printable};
use crate::overrides::OverridesOption;
use crate::project::{Project, find_flag};

/// Options of `flags explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The flag: its key or accessor name.
    name: String,
    /// The environment [default: flags.toml's default environment].
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// The context's key: the user's or account's id.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// An attribute: `name=value` (true/false become bools, numbers numbers, the rest
    /// strings), or typed: `name:str=..`, `name:num=..`, `name:bool=..`, `name:list=a,b`.
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    attributes: Vec<String>,
    #[command(flatten)]
    file: OverridesOption,
    /// Ignore the overrides file.
    #[arg(long)]
    no_overrides: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The only environment variables the explaining runtime sees: those the options set, so
/// that the caller's shell (APP_ENV, FLAGS_*) does not change the answer.
struct OptionVars(Vec<(String, String)>);

impl Vars for OptionVars {
    fn get(&self, name: &str) -> Option<Result<String, String>> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| Ok(value.clone()))
    }

    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    let catalog = project.catalog()?;
    let (_, flag) = find_flag(&catalog, &project, &args.name)?;
    let environments = catalog.environments();
    let env = match (&args.env, environments.default()) {
        (Some(name), _) => {
            environment(&catalog, &project, name)?;
            name.clone()
        }
        (None, Some(default)) => environments.names()[default].clone(),
        (None, None) => {
            return Err(Failure::Refused(format!(
                "{} has no default environment; say which with --env ({})",
                project.file.name(),
                environments.names().join(", ")
            )));
        }
    };
    let mut vars = vec![(environments.variable().to_owned(), env.clone())];
    let overrides = args.file.resolve(&project, &catalog);
    let mut notes = Vec::new();
    if args.no_overrides {
        notes.push("the overrides file is ignored (--no-overrides)".to_owned());
    } else if overrides.path.is_file() {
        vars.push((
            catalog.overrides().file_variable().to_owned(),
            overrides.path.display().to_string(),
        ));
    } else {
        notes.push(format!("no overrides file at {}", overrides.path.display()));
    }
    let context = context(args)?;
    // Leaked once: the process explains one flag and exits.
    let vars: &'static OptionVars = Box::leak(Box::new(OptionVars(vars)));
    let runtime = Runtime::load(project.file.name(), project.file.text(), vars)
        .map_err(|problems| Failure::Refused(problems.join("\n\n")))?;
    let problems: Vec<String> = match runtime.init() {
        Ok(report) => report.problems().iter().map(ToString::to_string).collect(),
        Err(error) => vec![error.to_string()],
    };
    let trace = runtime
        .trace(flag.key(), Some(&context))
        .ok_or_else(|| Failure::Refused(catalog.unknown_flag_message(&args.name)))?;
    match args.format {
        Format::Json => print_json(&trace_json(&trace, args, &env, &problems)),
        Format::Text => print_trace(&trace, args, &project, &problems, &notes),
    }
    Ok(ExitCode::SUCCESS)
}

/// The context the options describe.
fn context(args: &Args) -> Result<Context, Failure> {
    let mut context = match &args.key {
        Some(key) => Context::new(key.as_str()),
        None => Context::anonymous(),
    };
    for attribute in &args.attributes {
        let (name, value) = parse_attribute(attribute)?;
        context.set(&name, value);
    }
    Ok(context)
}

/// `name=value` or `name:kind=value`, read as the console reads it.
fn parse_attribute(text: &str) -> Result<(String, AttributeValue), Failure> {
    flags_console::parse_attribute(text)
        .map_err(|why| Failure::Refused(format!("--attr {text}: {why}")))
}

fn print_trace(
    trace: &Trace,
    args: &Args,
    project: &Project,
    problems: &[String],
    notes: &[String],
) {
    let paint = Paint::stdout();
    let who = match &args.key {
        Some(key) => format!("key {key}"),
        None => "a context without a key".to_owned(),
    };
    let environment = trace.environment.as_deref().unwrap_or("no environment");
    println!(
        "flag {} in {}, for {who}",
        paint.strong(&trace.key),
        paint.strong(environment)
    );
    for problem in problems {
        println!(
            "{}: {}",
            paint.warning("warning"),
            printable(&problem.to_string())
        );
    }
    for note in notes {
        println!("{}", paint.dim(note));
    }
    println!("value:   {}", paint.strong(&trace.value.to_toml()));
    println!("reason:  {}", trace.reason);
    let final_value = if trace.overridden {
        " (an overriding value is final: no prerequisites, no rules)"
    } else {
        ""
    };
    println!(
        "setting: {}{final_value}",
        printable(&trace.origin.to_string())
    );
    let mark = |yes: bool| {
        if yes {
            paint.good("yes")
        } else {
            paint.error("no ")
        }
    };
    if !trace.prerequisites.is_empty() {
        println!("\nprerequisites:");
        for prerequisite in &trace.prerequisites {
            println!(
                "  {} `{}` is {} (required: {})",
                mark(prerequisite.met),
                prerequisite.flag,
                prerequisite.actual.to_toml(),
                prerequisite.required.to_toml()
            );
        }
    }
    if trace.rules.is_empty() && trace.fallthrough.is_none() {
        return;
    }
    let file = match &trace.origin {
        Origin::OverridesFile { path, .. } => path.display().to_string(),
        _ => project.file.name().to_owned(),
    };
    let reached = !matches!(trace.reason, Reason::PrerequisiteOff { .. });
    println!(
        "\nrules, in order{}:",
        if reached {
            ""
        } else {
            " (not reached: a prerequisite is not met)"
        }
    );
    for rule in &trace.rules {
        let name = rule
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" ({})", printable(n)));
        let outcome = match (&rule.matched, &rule.serve.value) {
            (true, Some(value)) => format!("matched, serves {}", value.to_toml()),
            (true, None) => "matched, but its rollout has nothing to bucket: skipped".to_owned(),
            (false, _) => "no match".to_owned(),
        };
        let decided = if rule.decided {
            format!("  <- {}", paint.strong("decided"))
        } else {
            String::new()
        };
        println!(
            "  rule {}{name}, {file}:{}: {outcome}{decided}",
            rule.number, rule.line
        );
        for condition in &rule.conditions {
            println!(
                "    {} {}",
                mark(condition.holds),
                printable(&describe_condition(&condition.condition))
            );
        }
    }
    if let Some(fallthrough) = &trace.fallthrough {
        let serves = match (&fallthrough.value, fallthrough.bucket) {
            (Some(value), Some(bucket)) => format!("{} (bucket {bucket})", value.to_toml()),
            (Some(value), None) => value.to_toml(),
            (None, _) => "nothing to bucket: the default".to_owned(),
        };
        let decided = if fallthrough.decided {
            format!("  <- {}", paint.strong("decided"))
        } else {
            String::new()
        };
        let rollout = match &fallthrough.serve {
            Serve::Rollout(_) => format!("{}, ", printable(&fallthrough.serve.to_string())),
            Serve::Value(_) => String::new(),
        };
        println!("  otherwise: {rollout}serves {serves}{decided}");
    }
}

fn trace_json(trace: &Trace, args: &Args, env: &str, problems: &[String]) -> serde_json::Value {
    let context_attributes: serde_json::Map<String, serde_json::Value> = args
        .attributes
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(name, value)| {
            let name = name.split_once(':').map_or(name, |(n, _)| n);
            (name.to_owned(), value.into())
        })
        .collect();
    json!({
        "flag": trace.key,
        "environment": trace.environment.as_deref().unwrap_or(env),
        "context": { "key": args.key, "attributes": context_attributes },
        "value": json_value(&trace.value),
        "reason": trace.reason.to_string(),
        "origin": trace.origin.to_string(),
        "overridden": trace.overridden,
        "prerequisites": trace.prerequisites.iter().map(|p| json!({
            "flag": p.flag,
            "required": json_value(&p.required),
            "actual": json_value(&p.actual),
            "met": p.met,
        })).collect::<Vec<_>>(),
        "rules": trace.rules.iter().map(|r| json!({
            "number": r.number,
            "name": r.name,
            "line": r.line,
            "matched": r.matched,
            "decided": r.decided,
            "serves": r.serve.value.as_ref().map(json_value),
            "bucket": r.serve.bucket,
            "conditions": r.conditions.iter().map(|c| json!({
                "condition": describe_condition(&c.condition),
                "holds": c.holds,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "fallthrough": trace.fallthrough.as_ref().map(|f| json!({
            "serve": f.serve.to_string(),
            "serves": f.value.as_ref().map(json_value),
            "bucket": f.bucket,
            "decided": f.decided,
        })),
        "problems": problems,
    })
}
