//! Driving a run: inputs made one by one, run through a target, counted.
//!
//! A bounded run goes in this process ([`run_in_process`]). A long run ([`supervise`]) goes in
//! a worker process that reports each input on a line; when the worker dies (a stack
//! overflow, an abort) or stops answering (an input that takes too long), the supervisor
//! records that input and starts a new worker at the next one. Inputs are made again from
//! their numbers to be saved, so the worker never sends them.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::guard::{Class, Passed, Violation};
use crate::mutate::Mutator;
use crate::targets::Targets;
use crate::{Kind, corpus};

/// Locks a mutex, recovering it from a panic caught while it was held.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// When an input counts as slow, and whether known problems fail the run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// An input taking longer is reported as [`Class::Slow`].
    pub slow: Duration,
    /// Whether slow and oversized inputs fail the run, as panics and violations do.
    pub strict: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            slow: Duration::from_secs(1),
            strict: false,
        }
    }
}

/// One input that failed or hit a known problem.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Its number in the run.
    pub index: u64,
    /// Its size in bytes.
    pub len: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// How much output it produced, when known.
    pub output: usize,
    /// What went wrong.
    pub violation: Violation,
}

/// How many findings are kept per signature; the rest are counted.
const KEPT_PER_SIGNATURE: usize = 200;

/// The figures of a run.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The kind of input.
    pub kind: Kind,
    /// The run's seed.
    pub seed: u64,
    /// Inputs run.
    pub inputs: u64,
    /// Inputs accepted.
    pub valid: u64,
    /// Inputs by class of violation.
    pub classes: BTreeMap<Class, u64>,
    /// Findings by signature: how many, and the first few.
    pub signatures: BTreeMap<String, (u64, Vec<Finding>)>,
    /// The slowest input: its number and time.
    pub slowest: Option<(u64, Duration)>,
    /// The input with the most output: its number and size in bytes.
    pub max_output: Option<(u64, usize)>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Workers started after one died or hung (long runs only).
    pub restarts: u64,
}

impl Stats {
    /// Empty figures for a run of `kind` with `seed`.
    pub fn new(kind: Kind, seed: u64) -> Self {
        Self {
            kind,
            seed,
            inputs: 0,
            valid: 0,
            classes: BTreeMap::new(),
            signatures: BTreeMap::new(),
            slowest: None,
            max_output: None,
            elapsed: Duration::ZERO,
            restarts: 0,
        }
    }

    /// Counts one input: what its target said and how long it took.
    pub fn record(
        &mut self,
        index: u64,
        len: usize,
        result: Result<Passed, Violation>,
        elapsed: Duration,
        limits: &Limits,
    ) {
        self.inputs += 1;
        if self.slowest.is_none_or(|(_, slowest)| elapsed > slowest) {
            self.slowest = Some((index, elapsed));
        }
        let violation = match result {
            Ok(passed) => {
                self.valid += u64::from(passed.valid);
                if self.max_output.is_none_or(|(_, most)| passed.output > most) {
                    self.max_output = Some((index, passed.output));
                }
                if elapsed <= limits.slow {
                    return;
                }
                let output = passed.output;
                let message = format!("took {} ms", elapsed.as_millis());
                return self.find(Finding {
                    index,
                    len,
                    elapsed,
                    output,
                    violation: Violation::new(Class::Slow, message),
                });
            }
            Err(violation) => violation,
        };
        if self
            .max_output
            .is_none_or(|(_, most)| violation.output > most)
        {
            self.max_output = Some((index, violation.output));
        }
        self.find(Finding {
            index,
            len,
            elapsed,
            output: violation.output,
            violation,
        });
    }

    fn find(&mut self, finding: Finding) {
        *self.classes.entry(finding.violation.class).or_default() += 1;
        let (count, kept) = self
            .signatures
            .entry(finding.violation.signature())
            .or_default();
        *count += 1;
        if kept.len() < KEPT_PER_SIGNATURE {
            kept.push(finding);
            return;
        }
        // Of a known problem, the worst are kept: the slowest, the largest output.
        let worth = |f: &Finding| match f.violation.class {
            Class::Slow => f.elapsed.as_micros(),
            Class::Oversized => f.output as u128,
            _ => 0,
        };
        if let Some(least) = (0..kept.len()).min_by_key(|&i| worth(&kept[i])) {
            if worth(&finding) > worth(&kept[least]) {
                kept[least] = finding;
            }
        }
    }

    /// How many inputs of `class` there were.
    pub fn count(&self, class: Class) -> u64 {
        self.classes.get(&class).copied().unwrap_or(0)
    }

    /// How many inputs fail the run: panics, crashes and violations, and with `strict` the
    /// known problems too.
    pub fn failures(&self, strict: bool) -> u64 {
        self.classes
            .iter()
            .filter(|(class, _)| strict || !class.is_known_problem())
            .map(|(_, count)| count)
            .sum()
    }

    /// Every finding kept, worst class first.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        let mut all: Vec<&Finding> = self
            .signatures
            .values()
            .flat_map(|(_, kept)| kept)
            .collect();
        all.sort_by_key(|f| (f.violation.class, f.index));
        all.into_iter()
    }

    /// The figures as a few lines of text.
    pub fn summary(&self) -> String {
        let seconds = self.elapsed.as_secs_f64();
        let rate = match seconds > 0.0 {
            true => self.inputs as f64 / seconds,
            false => 0.0,
        };
        let slowest = self.slowest.map_or("-".to_owned(), |(index, time)| {
            format!("#{index} in {:.1} ms", time.as_secs_f64() * 1000.0)
        });
        let output = self.max_output.map_or("-".to_owned(), |(index, bytes)| {
            format!("{bytes} bytes (#{index})")
        });
        let mut text = format!(
            "{}: {} inputs (seed {}): {} valid, {} invalid, in {:.1} s, {:.0} inputs/s\n  \
             panics {}, crashes {}, violations {}, slow {}, oversized {}\n  \
             slowest {slowest}, max output {output}",
            self.kind,
            self.inputs,
            self.seed,
            self.valid,
            self.inputs - self.valid,
            seconds,
            rate,
            self.count(Class::Panic),
            self.count(Class::Crash),
            self.count(Class::Invariant),
            self.count(Class::Slow),
            self.count(Class::Oversized),
        );
        if self.restarts > 0 {
            text.push_str(&format!(", {} worker restarts", self.restarts));
        }
        for (signature, (count, kept)) in &self.signatures {
            let first = kept.first().map_or(0, |f| f.index);
            text.push_str(&format!("\n  {count} x {signature} (e.g. #{first})"));
        }
        text
    }

    /// Saves the inputs worth keeping in `corpus/<kind>/`: for each failure signature its
    /// three smallest inputs; of slow and oversized ones, the five slowest killed, the five
    /// slowest measured and the three with the most output. Returns the files written, with what each one is.
    pub fn save(&self, mutator: &Mutator) -> io::Result<Vec<(PathBuf, String)>> {
        let mut saved = Vec::new();
        let mut known: Vec<&Finding> = Vec::new();
        for (signature, (_, kept)) in &self.signatures {
            let mut kept: Vec<&Finding> = kept.iter().collect();
            if kept
                .first()
                .is_some_and(|f| f.violation.class.is_known_problem())
            {
                known.extend(kept);
                continue;
            }
            kept.sort_by_key(|f| (f.len, f.index));
            for finding in kept.into_iter().take(3) {
                let input = mutator.input(self.seed, finding.index);
                let path = corpus::save(&corpus::corpus_dir(self.kind), self.kind, &input)?;
                saved.push((path, signature.clone()));
            }
        }
        // The five slowest killed, the five slowest measured, the three largest outputs.
        let of = |signature: &str| -> Vec<&Finding> {
            known
                .iter()
                .copied()
                .filter(|f| f.violation.signature() == signature)
                .collect()
        };
        let (mut killed, mut slow, mut oversized) =
            (of("slow, killed"), of("slow"), of("oversized"));
        killed.sort_by_key(|f| std::cmp::Reverse(f.elapsed));
        slow.sort_by_key(|f| std::cmp::Reverse(f.elapsed));
        oversized.sort_by_key(|f| std::cmp::Reverse(f.output));
        let worst = killed
            .into_iter()
            .take(5)
            .chain(slow.into_iter().take(5))
            .chain(oversized.into_iter().take(3));
        for finding in worst {
            let input = mutator.input(self.seed, finding.index);
            let path = corpus::save(&corpus::corpus_dir(self.kind), self.kind, &input)?;
            let what = format!(
                "{} #{} ({} bytes, {:.1} s): {}",
                finding.violation.class.name(),
                finding.index,
                finding.len,
                finding.elapsed.as_secs_f64(),
                finding.violation.message
            );
            saved.push((path, what));
        }
        Ok(saved)
    }
}

/// Runs inputs `range` of the run with `seed` in this process.
pub fn run_in_process(
    targets: &Targets,
    mutator: &Mutator,
    seed: u64,
    range: std::ops::Range<u64>,
    limits: &Limits,
) -> Stats {
    let started = Instant::now();
    let mut stats = Stats::new(mutator.kind(), seed);
    for index in range {
        let input = mutator.input(seed, index);
        let began = Instant::now();
        let result = targets.run(mutator.kind(), &input);
        stats.record(index, input.len(), result, began.elapsed(), limits);
    }
    stats.elapsed = started.elapsed();
    stats
}

/// Runs one input, timed: what a worker reports, and what a replay prints.
pub fn run_one(
    targets: &Targets,
    kind: Kind,
    input: &[u8],
) -> (Result<Passed, Violation>, Duration) {
    let began = Instant::now();
    let result = targets.run(kind, input);
    (result, began.elapsed())
}

/// A worker's side of a long run: runs inputs `from..to` and reports each one on a line of
/// `out`, as [`supervise`] reads them.
pub fn worker(
    targets: &Targets,
    mutator: &Mutator,
    seed: u64,
    from: u64,
    to: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    for index in from..to {
        let input = mutator.input(seed, index);
        let (result, elapsed) = run_one(targets, mutator.kind(), &input);
        let micros = elapsed.as_micros();
        let line = match result {
            Ok(passed) => format!(
                "{index} ok {} {micros} {} -",
                u8::from(passed.valid),
                passed.output
            ),
            Err(violation) => format!(
                "{index} {} 0 {micros} {} {}",
                violation.class.name(),
                violation.output,
                escape(&violation.message)
            ),
        };
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// One reported input: its number, and what its target said, and how long it took.
type Reported = (u64, Result<Passed, Violation>, Duration);

fn parse_line(line: &str) -> Option<Reported> {
    let mut parts = line.splitn(6, ' ');
    let index = parts.next()?.parse().ok()?;
    let class = parts.next()?;
    let valid = parts.next()? == "1";
    let elapsed = Duration::from_micros(parts.next()?.parse().ok()?);
    let output = parts.next()?.parse().ok()?;
    let message = parts.next().unwrap_or_default();
    let result = match class {
        "ok" => Ok(Passed { valid, output }),
        name => Err(Violation {
            output,
            ..Violation::new(Class::from_name(name)?, unescape(message))
        }),
    };
    Some((index, result, elapsed))
}

/// A long run, each input in a worker process.
#[derive(Clone, Debug)]
pub struct LongRun {
    /// The kind of input.
    pub kind: Kind,
    /// The run's seed.
    pub seed: u64,
    /// How many inputs.
    pub inputs: u64,
    /// The `flags` binary, for the CLI kind.
    pub flags_bin: Option<PathBuf>,
    /// Slow inputs and strictness.
    pub limits: Limits,
    /// The longest prerequisite ladder the mutator appends.
    pub max_ladder: usize,
    /// An input without an answer for this long is killed and reported as slow.
    pub hang_after: Duration,
    /// The program that runs as worker (this one, with `--worker`).
    pub worker_exe: PathBuf,
}

impl LongRun {
    /// The arguments that make `worker_exe` a worker for inputs `from..`.
    fn worker_args(&self, from: u64) -> Vec<String> {
        let mut args = vec![
            "--worker".to_owned(),
            "--kind".to_owned(),
            self.kind.name().to_owned(),
            "--seed".to_owned(),
            self.seed.to_string(),
            "--from".to_owned(),
            from.to_string(),
            "--inputs".to_owned(),
            self.inputs.to_string(),
            "--max-ladder".to_owned(),
            self.max_ladder.to_string(),
        ];
        if let Some(bin) = &self.flags_bin {
            args.push("--flags-bin".to_owned());
            args.push(bin.display().to_string());
        }
        args
    }
}

/// Runs `run` in worker processes, calling `progress` now and then with the figures so far.
pub fn supervise(run: &LongRun, mut progress: impl FnMut(&Stats)) -> io::Result<Stats> {
    let started = Instant::now();
    let mut stats = Stats::new(run.kind, run.seed);
    let scratch = tempfile::tempdir()?;
    let stderr_path = scratch.path().join("worker.stderr");
    let mut next = 0;
    let mut last_progress = Instant::now();
    while next < run.inputs {
        let mut child = Command::new(&run.worker_exe)
            .args(run.worker_args(next))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path)?)
            .spawn()?;
        let stdout = child.stdout.take().expect("the worker's stdout is piped");
        let (sender, receiver) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut answered_at = Instant::now();
        loop {
            match receiver.recv_timeout(run.hang_after) {
                Ok(line) => {
                    answered_at = Instant::now();
                    let Some((index, result, elapsed)) = parse_line(&line) else {
                        continue;
                    };
                    let len = 0;
                    stats.record(index, len, result, elapsed, &run.limits);
                    next = index + 1;
                    if last_progress.elapsed() > Duration::from_secs(30) {
                        stats.elapsed = started.elapsed();
                        progress(&stats);
                        last_progress = Instant::now();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let message = format!(
                        "no answer after {:.0} s; the worker was killed",
                        run.hang_after.as_secs_f64()
                    );
                    let violation = Violation::new(Class::Slow, message);
                    stats.record(next, 0, Err(violation), answered_at.elapsed(), &run.limits);
                    next += 1;
                    stats.restarts += 1;
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait()?;
                    if next < run.inputs {
                        let tail = tail(&stderr_path, 6_000);
                        let violation = Violation::new(
                            Class::Crash,
                            format!("the worker died ({status}) on this input:\n{tail}"),
                        );
                        let elapsed = answered_at.elapsed();
                        stats.record(next, 0, Err(violation), elapsed, &run.limits);
                        next += 1;
                        stats.restarts += 1;
                    }
                    break;
                }
            }
        }
        let _ = reader.join();
    }
    stats.elapsed = started.elapsed();
    fill_lengths(&mut stats, run);
    Ok(stats)
}

/// The sizes of the inputs kept, which the worker does not report.
fn fill_lengths(stats: &mut Stats, run: &LongRun) {
    let mutator = Mutator::for_kind(run.kind).max_ladder(run.max_ladder);
    for (_, kept) in stats.signatures.values_mut() {
        for finding in kept {
            finding.len = mutator.input(run.seed, finding.index).len();
        }
    }
}

/// The last `bytes` bytes of a file, as text.
fn tail(path: &Path, bytes: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let from = text.len().saturating_sub(bytes);
    String::from_utf8_lossy(&text[from..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_lines_read_back() {
        let violation = Violation::new(Class::Panic, "panicked at a.rs:1:2:\nbad \\ thing\r");
        let line = format!("12 panic 0 345 0 {}", escape(&violation.message));
        let (index, result, elapsed) = parse_line(&line).expect("a worker line");
        assert_eq!((index, elapsed), (12, Duration::from_micros(345)));
        assert_eq!(result, Err(violation));
        let (_, ok, _) = parse_line("3 ok 1 10 42 -").expect("a worker line");
        assert_eq!(
            ok,
            Ok(Passed {
                valid: true,
                output: 42
            })
        );
    }
}
