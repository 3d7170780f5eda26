//! `flags serve`: the web console for one flags.toml over the Redis store (docs/console.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use flags_console::{Console, ConsoleConfig, Intercom, IntercomKey, Token};

use crate::Failure;
use crate::project::Project;
use crate::store::RedisOption;

/// Options of `flags serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    redis: RedisOption,
    /// A file of access tokens, one per line: NAME ROLE SECRET (ROLE: viewer, editor or
    /// editor:ENV,ENV).
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// A file holding Intercom's client secret, which signs its webhook notifications (or
    /// FLAGS_CONSOLE_INTERCOM_SECRET).
    #[arg(long, value_name = "FILE")]
    intercom_secret_file: Option<PathBuf>,
    /// An Intercom tag and the segment its users join: "TAG=SEGMENT", repeatable.
    #[arg(long = "intercom-tag", value_name = "TAG=SEGMENT")]
    intercom_tags: Vec<String>,
    /// The environment whose segments Intercom's tags change.
    #[arg(long, value_name = "NAME", default_value = "production")]
    intercom_environment: String,
    /// The user identifier that becomes the context key: user_id or email.
    #[arg(long, value_name = "FIELD", default_value = "user_id")]
    intercom_key: String,
    /// Notifications created longer ago than this many seconds are refused as replays.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    intercom_max_age: u64,
    /// A file holding the bearer token of the generic segment webhook (or
    /// FLAGS_CONSOLE_WEBHOOK_TOKEN).
    #[arg(long, value_name = "FILE")]
    webhook_token_file: Option<PathBuf>,
    /// A file of OFREP tokens, one per line (or FLAGS_OFREP_TOKENS): serves OFREP at
    /// /environments/ENV/ofrep/v1/evaluate/flags to their holders.
    #[arg(long, value_name = "FILE")]
    ofrep_tokens: Option<PathBuf>,
    /// An origin whose pages may call the OFREP endpoints (CORS), repeatable.
    #[arg(long = "ofrep-allow-origin", value_name = "ORIGIN")]
    ofrep_origins: Vec<String>,
}

/// OFREP tokens from `text`: one per line (or separated by `;`), `#` starting a comment.
fn ofrep_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', ';'])
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|token| !token.is_empty())
}

/// A secret from `file`, else from the variable `variable`; `None` when neither is set.
fn secret(file: Option<&Path>, variable: &str) -> Result<Option<String>, Failure> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|error| Failure::Broken(format!("cannot read {}: {error}", path.display()))),
        None => Ok(std::env::var(variable)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())),
    }
}

pub(crate) fn run(file: Option<&Path>, args: &Args) -> Result<ExitCode, Failure> {
    let project = Project::open(file)?;
    project.catalog()?;
    let Some(url) = args.redis.url() else {
        return Err(Failure::Refused(
            "the console works on the Redis store: give --redis URL (or FLAGS_REDIS_URL)".into(),
        ));
    };
    let mut tokens: Vec<Token> = Vec::new();
    if let Some(path) = &args.tokens {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Failure::Broken(format!("cannot read {}: {error}", path.display())))?;
        tokens.extend(
            Token::parse_list(&path.display().to_string(), &text).map_err(Failure::Refused)?,
        );
    }
    if let Some(text) = secret(None, "FLAGS_CONSOLE_TOKENS")? {
        tokens.extend(Token::parse_list("FLAGS_CONSOLE_TOKENS", &text).map_err(Failure::Refused)?);
    }
    if tokens.is_empty() {
        return Err(Failure::Refused(
            "nobody could log in: give tokens with --tokens FILE or FLAGS_CONSOLE_TOKENS \
             (one per line: NAME ROLE SECRET; see docs/console.md)"
                .into(),
        ));
    }
    let mut config =
        ConsoleConfig::new(project.file.name(), project.file.text(), url).tokens(tokens);
    let intercom_secret = secret(
        args.intercom_secret_file.as_deref(),
        "FLAGS_CONSOLE_INTERCOM_SECRET",
    )?;
    match (intercom_secret, args.intercom_tags.is_empty()) {
        (Some(secret), _) => {
            let key = match args.intercom_key.as_str() {
                "user_id" => IntercomKey::UserId,
                "email" => IntercomKey::Email,
                other => {
                    return Err(Failure::Refused(format!(
                        "--intercom-key {other}: the key is user_id or email"
                    )));
                }
            };
            let mut intercom = Intercom::new(&secret, &args.intercom_environment)
                .key(key)
                .max_age(Duration::from_secs(args.intercom_max_age));
            for mapping in &args.intercom_tags {
                intercom = intercom.tag_mapping(mapping).map_err(Failure::Refused)?;
            }
            config = config.intercom(intercom);
        }
        (None, false) => {
            return Err(Failure::Refused(
                "--intercom-tag needs Intercom's client secret: --intercom-secret-file FILE or \
                 FLAGS_CONSOLE_INTERCOM_SECRET"
                    .into(),
            ));
        }
        (None, true) => {}
    }
    if let Some(token) = secret(
        args.webhook_token_file.as_deref(),
        "FLAGS_CONSOLE_WEBHOOK_TOKEN",
    )? {
        config = config.webhook_token(&token);
    }
    let mut ofrep_texts = Vec::new();
    if let Some(path) = &args.ofrep_tokens {
        ofrep_texts.push(std::fs::read_to_string(path).map_err(|error| {
            Failure::Broken(format!("cannot read {}: {error}", path.display()))
        })?);
    }
    ofrep_texts.extend(secret(None, "FLAGS_OFREP_TOKENS")?);
    let mut ofrep_tokens_given = false;
    for token in ofrep_texts.iter().flat_map(|text| ofrep_tokens(text)) {
        config = config.ofrep_token(token);
        ofrep_tokens_given = true;
    }
    if !args.ofrep_origins.is_empty() && !ofrep_tokens_given {
        return Err(Failure::Refused(
            "--ofrep-allow-origin needs OFREP tokens: --ofrep-tokens FILE or FLAGS_OFREP_TOKENS"
                .into(),
        ));
    }
    for origin in &args.ofrep_origins {
        config = config.ofrep_origin(origin);
    }
    let console = Console::new(config).map_err(|error| Failure::Refused(error.to_string()))?;
    flags_console::serve(&args.listen, console)
        .map_err(|error| Failure::Broken(format!("cannot serve on {}: {error}", args.listen)))?;
    Ok(ExitCode::SUCCESS)
}
