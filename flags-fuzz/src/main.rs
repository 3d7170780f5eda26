//! `flags-fuzz`: long runs of the fuzzer, replays and minimization (see `docs/fuzzing.md`).
//!
//! ```text
//! cargo build --release -p flags-cli
//! cargo run --release -p flags-fuzz -- [--kind flags_toml|overrides|redis_entry|env_vars|cli|all]
//!     [--inputs N] [--seed S] [--flags-bin PATH] [--slow-ms MS] [--lenient] [--no-save]
//! cargo run --release -p flags-fuzz -- --replay PATH... [--kind K]
//! cargo run --release -p flags-fuzz -- --minimize FILE --kind K
//! cargo run --release -p flags-fuzz -- --show N --kind K [--seed S]
//! ```
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use flags_fuzz::run::{Limits, LongRun, run_one, supervise, worker};
use flags_fuzz::{Class, Kind, Mutator, Targets, Violation, corpus};

const USAGE: &str = "\
usage: flags-fuzz [--kind flags_toml|overrides|redis_entry|env_vars|cli|all] [--inputs N] [--seed S]
                  [--flags-bin PATH] [--slow-ms MS] [--hang-secs S] [--max-ladder N]
                  [--lenient] [--no-save]
       flags-fuzz --replay PATH... [--kind K] [--flags-bin PATH]
       flags-fuzz --minimize FILE --kind K [--flags-bin PATH]
       flags-fuzz --show N --kind K [--seed S] [--max-ladder N]

A long run makes N inputs of each kind from the seeds in flags-fuzz/seeds, runs each one in
a worker process, prints the figures, and saves failing inputs in flags-fuzz/corpus/<kind>/
(a panic, a crash, a violation, a slow input, an oversized output). It exits with 1 on any
of them (with --lenient, slow and oversized inputs are reported and kept without failing).
The cli kind runs the flags binary: build it first with `cargo build --release -p flags-cli`.";

/// Prints a line to standard output; a reader that went away (`| head`) is no error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Debug)]
struct Options {
    kinds: Vec<Kind>,
    inputs: u64,
    seed: u64,
    flags_bin: PathBuf,
    slow: Duration,
    hang: Option<Duration>,
    max_ladder: usize,
    strict: bool,
    save: bool,
    replay: Vec<PathBuf>,
    minimize: Option<PathBuf>,
    show: Option<u64>,
    worker: bool,
    from: u64,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        kinds: Kind::ALL.to_vec(),
        inputs: 100_000,
        seed: 1,
        flags_bin: corpus::crate_dir().join("../target/release/flags"),
        slow: Duration::from_secs(1),
        hang: None,
        max_ladder: 40,
        strict: true,
        save: true,
        replay: Vec::new(),
        minimize: None,
        show: None,
        worker: false,
        from: 0,
    };
    let mut args = args.into_iter();
    let mut kind_given = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, text: String| {
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not {text:?}"))
        };
        match arg.as_str() {
            "--kind" => {
                let name = value("--kind")?;
                kind_given = true;
                options.kinds = match name.as_str() {
                    "all" => Kind::ALL.to_vec(),
                    name => vec![Kind::from_name(name).ok_or(format!("unknown kind {name:?}"))?],
                };
            }
            "--inputs" => options.inputs = number("--inputs", value("--inputs")?)?,
            "--seed" => options.seed = number("--seed", value("--seed")?)?,
            "--from" => options.from = number("--from", value("--from")?)?,
            "--flags-bin" => options.flags_bin = PathBuf::from(value("--flags-bin")?),
            "--slow-ms" => {
                options.slow = Duration::from_millis(number("--slow-ms", value("--slow-ms")?)?)
            }
            "--hang-secs" => {
                let secs = number("--hang-secs", value("--hang-secs")?)?;
                options.hang = Some(Duration::from_secs(secs));
            }
            "--max-ladder" => {
                let flags = number("--max-ladder", value("--max-ladder")?)?;
                options.max_ladder = usize::try_from(flags).map_err(|e| e.to_string())?;
            }
            "--show" => options.show = Some(number("--show", value("--show")?)?),
            "--strict" => options.strict = true,
            "--lenient" => options.strict = false,
            "--no-save" => options.save = false,
            "--worker" => options.worker = true,
            "--replay" => options.replay.push(PathBuf::from(value("--replay")?)),
            "--minimize" => options.minimize = Some(PathBuf::from(value("--minimize")?)),
            "-h" | "--help" => return Err(String::new()),
            other if !options.replay.is_empty() && !other.starts_with('-') => {
                options.replay.push(PathBuf::from(other));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if (options.minimize.is_some() || options.show.is_some()) && !kind_given {
        return Err("--minimize and --show need --kind".to_owned());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("flags-fuzz: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.worker {
        return run_worker(&options);
    }
    if let Some(index) = options.show {
        let [kind] = options.kinds[..] else {
            return ExitCode::from(2);
        };
        let input = Mutator::for_kind(kind)
            .max_ladder(options.max_ladder)
            .input(options.seed, index);
        return match std::io::Write::write_all(&mut std::io::stdout(), &input) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(2),
        };
    }
    if let Some(file) = &options.minimize {
        return minimize(&options, file);
    }
    if !options.replay.is_empty() {
        return replay(&options);
    }
    long_runs(&options)
}

fn targets(options: &Options, kinds: &[Kind]) -> Result<Targets, ExitCode> {
    if !kinds.iter().any(|kind| kind.runs_flags_bin()) {
        return Ok(Targets::in_process());
    }
    if !options.flags_bin.is_file() {
        eprintln!(
            "flags-fuzz: no flags binary at {}; build it first with `cargo build --release -p flags-cli`, \
             or give its path with --flags-bin",
            options.flags_bin.display()
        );
        return Err(ExitCode::from(2));
    }
    Ok(Targets::with_flags_bin(&options.flags_bin))
}

fn run_worker(options: &Options) -> ExitCode {
    let [kind] = options.kinds[..] else {
        eprintln!("flags-fuzz: a worker runs one kind");
        return ExitCode::from(2);
    };
    let targets = match targets(options, &[kind]) {
        Ok(targets) => targets,
        Err(code) => return code,
    };
    let mutator = Mutator::for_kind(kind).max_ladder(options.max_ladder);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match worker(
        &targets,
        &mutator,
        options.seed,
        options.from,
        options.inputs,
        &mut out,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        // The supervisor went away.
        Err(_) => ExitCode::from(3),
    }
}

fn long_runs(options: &Options) -> ExitCode {
    let targets_ok = targets(options, &options.kinds);
    if let Err(code) = targets_ok {
        return code;
    }
    let worker_exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("flags-fuzz: cannot find this program to start workers: {error}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for &kind in &options.kinds {
        let run = LongRun {
            kind,
            seed: options.seed,
            inputs: options.inputs,
            flags_bin: kind.runs_flags_bin().then(|| options.flags_bin.clone()),
            limits: Limits {
                slow: options.slow,
                strict: options.strict,
            },
            max_ladder: options.max_ladder,
            hang_after: options.hang.unwrap_or(match kind {
                Kind::Cli | Kind::Source => Duration::from_secs(90),
                _ => Duration::from_secs(10),
            }),
            worker_exe: worker_exe.clone(),
        };
        eprintln!("{kind}: {} inputs, seed {}", run.inputs, run.seed);
        let stats = match supervise(&run, |stats| eprintln!("{}", stats.summary())) {
            Ok(stats) => stats,
            Err(error) => {
                eprintln!("flags-fuzz: the run of {kind} failed: {error}");
                return ExitCode::from(2);
            }
        };
        say!("{}", stats.summary());
        for finding in stats
            .findings()
            .filter(|f| !f.violation.class.is_known_problem())
            .take(5)
        {
            say!(
                "  #{} ({} bytes): {}",
                finding.index,
                finding.len,
                finding.violation
            );
        }
        if options.save {
            let mutator = Mutator::for_kind(kind).max_ladder(options.max_ladder);
            match stats.save(&mutator) {
                Ok(saved) => {
                    for (path, what) in saved {
                        say!("  saved {}: {what}", path.display());
                    }
                }
                Err(error) => eprintln!("flags-fuzz: cannot save inputs: {error}"),
            }
        }
        failed |= stats.failures(options.strict) > 0;
    }
    match failed {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    }
}

/// The kind of a file: `--kind` if one was given, else its directory's name
/// (`corpus/overrides/...`), else its extension.
fn kind_of(options: &Options, path: &Path) -> Option<Kind> {
    if let [kind] = options.kinds[..] {
        return Some(kind);
    }
    let from_dir = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .and_then(Kind::from_name);
    from_dir.or_else(|| match path.extension()?.to_str()? {
        "entry" => Some(Kind::RedisEntry),
        "env" => Some(Kind::EnvVars),
        "cli" => Some(Kind::Cli),
        "rs" => Some(Kind::Source),
        _ => None,
    })
}

fn replay(options: &Options) -> ExitCode {
    let mut files = Vec::new();
    for path in &options.replay {
        match path.is_dir() {
            true => match corpus::read_dir(path) {
                Ok(found) => files.extend(found.into_iter().map(|(path, _)| path)),
                Err(error) => {
                    eprintln!("flags-fuzz: cannot read {}: {error}", path.display());
                    return ExitCode::from(2);
                }
            },
            false => files.push(path.clone()),
        }
    }
    let mut failed = false;
    for path in files {
        let Some(kind) = kind_of(options, &path) else {
            eprintln!(
                "flags-fuzz: which kind is {}? say it with --kind",
                path.display()
            );
            return ExitCode::from(2);
        };
        let targets = match targets(options, &[kind]) {
            Ok(targets) => targets,
            Err(code) => return code,
        };
        let input = match std::fs::read(&path) {
            Ok(input) => input,
            Err(error) => {
                eprintln!("flags-fuzz: cannot read {}: {error}", path.display());
                return ExitCode::from(2);
            }
        };
        let (result, elapsed) = run_one(&targets, kind, &input);
        let millis = elapsed.as_secs_f64() * 1000.0;
        match result {
            Ok(passed) => say!(
                "ok {} ({kind}, {} bytes, {} in {millis:.1} ms, {} bytes of output)",
                path.display(),
                input.len(),
                if passed.valid { "valid" } else { "invalid" },
                passed.output
            ),
            Err(violation) => {
                let fails = !violation.class.is_known_problem() || options.strict;
                failed |= fails;
                let verdict = if fails { "FAILED" } else { "known problem" };
                say!(
                    "{verdict} {} ({kind}, {millis:.1} ms): {violation}",
                    path.display()
                );
            }
        }
    }
    match failed {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    }
}

/// Shrinks a failing input while it fails the same way: chunks of halving size removed,
/// then single bytes; the result is saved in the corpus.
fn minimize(options: &Options, file: &Path) -> ExitCode {
    let [kind] = options.kinds[..] else {
        return ExitCode::from(2);
    };
    let targets = match targets(options, &[kind]) {
        Ok(targets) => targets,
        Err(code) => return code,
    };
    let mut input = match std::fs::read(file) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("flags-fuzz: cannot read {}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    let signature = |input: &[u8]| -> Option<String> {
        targets
            .run(kind, input)
            .err()
            .filter(|v: &Violation| v.class != Class::Slow)
            .map(|v| v.signature())
    };
    let Some(wanted) = signature(&input) else {
        eprintln!("flags-fuzz: {} does not fail", file.display());
        return ExitCode::from(1);
    };
    eprintln!("minimizing {} bytes failing as: {wanted}", input.len());
    let mut chunk = input.len().max(1).next_power_of_two();
    while chunk >= 1 {
        let mut at = 0;
        while at < input.len() {
            let end = (at + chunk).min(input.len());
            let mut smaller = input.clone();
            smaller.drain(at..end);
            if signature(&smaller).as_deref() == Some(wanted.as_str()) {
                input = smaller;
            } else {
                at += chunk;
            }
        }
        chunk /= 2;
    }
    match corpus::save(&corpus::corpus_dir(kind), kind, &input) {
        Ok(path) => {
            say!(
                "{} ({} bytes): {:?}",
                path.display(),
                input.len(),
                String::from_utf8_lossy(&input)
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("flags-fuzz: cannot save: {error}");
            ExitCode::from(2)
        }
    }
}
