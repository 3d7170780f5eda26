//! Runs the task_comments service on 127.0.0.1.
//!
//! ```sh
//! cargo run -p task_comments                       # development: everyone has comments
//! APP_ENV=production ADMIN_TOKEN=s3cret cargo run -p task_comments
//! ```
//!
//! `GET /live?user=u-2` shows the task list with the Comments links decided in the browser by
//! OpenFeature's web SDK (run `npm ci` in `examples/task_comments/web` first).
//!
//! `PORT` chooses the port (default 3000; 0 for any free one). `FLAGS_REDIS_URL`
//! (`redis://127.0.0.1:6379`) makes the service follow a Redis store and write segment
//! changes there, for every process of the service, and sends its evaluation counts there
//! (sampled) for the console. `RUST_LOG=flags=debug` shows every flag evaluation.
//! `task_comments --help` lists every variable it reads.

use std::io::Write;
use std::process::ExitCode;

use flags::store::{CountOptions, REDIS_URL_VARIABLE, RedisOptions};
use task_comments::{AppState, Flags, SharedStore, app};
use tracing_subscriber::EnvFilter;

/// What `--help` prints: the service is configured by environment variables only.
fn help() -> String {
    format!(
        "task_comments: a task list whose comments are released behind a feature flag.

Usage: task_comments [--help]

It serves http://127.0.0.1:$PORT/tasks until Ctrl-C, configured by environment variables:
  APP_ENV             the environment of flags.toml (development, test, staging, production)
                      [default: development]
  PORT                the port to listen on; 0 for any free one [default: 3000]
  ADMIN_TOKEN         the bearer token of the admin endpoints; unset, they refuse every call
  OFREP_TOKEN         the bearer token of the OFREP endpoints (/ofrep/v1/...), which the
                      live page (/live?user=u-2) sends; unset, they answer any caller
  {REDIS_URL_VARIABLE}     a Redis store (redis://127.0.0.1:6379) that every process of the
                      service follows, and that the admin endpoints write to
  FLAGS_OVERRIDES     the path of an overrides file (flags set writes one)
  FLAGS_<FLAG>        overrides one flag, by its accessor in capitals:
                      FLAGS_CHECKOUT_FLOW=express
  RUST_LOG            what is logged [default: info]; flags=debug shows every evaluation
"
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args_os().nth(1) {
        None => {}
        Some(arg) if arg == "--help" || arg == "-h" => {
            print!("{}", help());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "task_comments: unknown argument {other:?}: it is configured by environment variables (see --help)"
            );
            return ExitCode::from(2);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let environment = match Flags::init() {
        Ok(report) => {
            for problem in report.problems() {
                eprintln!("flags: {problem}");
            }
            report.environment().unwrap_or("none").to_owned()
        }
        Err(error) => {
            eprintln!("flags: {error}");
            return ExitCode::FAILURE;
        }
    };
    let port = match std::env::var("PORT") {
        Ok(text) => match text.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("PORT={text:?} is not a port number");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => 3000,
    };
    let admin_token = std::env::var("ADMIN_TOKEN").ok();
    if admin_token.as_deref().is_none_or(str::is_empty) {
        eprintln!("ADMIN_TOKEN is not set: the admin endpoints refuse every call");
    }

    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    // With a Redis store, every process of the service follows the same overrides and
    // segment members, and the admin endpoints write there.
    let store = match std::env::var(REDIS_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => {
            match Flags::runtime().follow_redis(RedisOptions::new(&url)) {
                Ok(follower) => {
                    eprintln!("following the Redis store at {}", follower.server());
                    Some(SharedStore::new(&url, &environment, follower))
                }
                Err(error) => {
                    eprintln!("{REDIS_URL_VARIABLE}: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    let counts_to_store = store.is_some();
    let ofrep_token = std::env::var("OFREP_TOKEN").ok();
    let state = AppState::with_store_and_ofrep(admin_token, store, ofrep_token);
    // With a store, evaluation counts go there for the console, sampled so that checks keep
    // their fast path between windows (BENCHMARKS.md, "Evaluation counts"). Without one, for
    // GET /admin/flag-counts, a listener hears every check (~80 ns rather than ~0.6 ns).
    let _counts = match std::env::var(REDIS_URL_VARIABLE) {
        Ok(url) if counts_to_store => {
            match Flags::runtime().report_counts(CountOptions::new(&url)) {
                Ok(reporter) => Some(reporter),
                Err(error) => {
                    eprintln!("{REDIS_URL_VARIABLE}: evaluation counts not sent: {error}");
                    None
                }
            }
        }
        _ => {
            state.count_evaluations();
            None
        }
    };
    println!("task_comments listening on http://{address} (environment: {environment})");
    // Tests read the line above to find the port: make sure it is out.
    let _ = std::io::stdout().flush();

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}
