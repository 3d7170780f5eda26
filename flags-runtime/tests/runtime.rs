mod common;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use flags_runtime::{InitError, Origin, OverrideError, Reason, Runtime, StubScope, Value};

fn reason(registry: &'static TestRegistry, name: &str) -> Reason {
    registry
        .runtime()
        .explain(name, None)
        .unwrap()
        .reason()
        .clone()
}

#[test]
fn environment_values_and_defaults() {
    let (registry, _) = build::<6>(FLAGS, &[("APP_ENV", "staging")]);
    assert_eq!(
        registry.runtime().init().unwrap().environment(),
        Some("staging")
    );
    assert!(!registry.bool(BETA));
    assert_eq!(registry.variant(FLOW), 1);
    assert_eq!(registry.int(UPLOAD), 10);
    assert_eq!(registry.float(RATE), 0.25);
    assert_eq!(&*registry.string(BANNER), "hello");
    assert_eq!(registry.int(HUGE), 9_007_199_254_740_993);
    assert_eq!(
        reason(registry, "checkout_flow"),
        Reason::Static {
            origin: Origin::Environment("staging".into())
        }
    );
    assert_eq!(
        reason(registry, "beta_enabled"),
        Reason::Static {
            origin: Origin::Default
        }
    );
}

#[test]
fn the_default_environment_applies_when_the_variable_is_unset_or_empty() {
    let (registry, _) = build::<6>(FLAGS, &[]);
    assert!(registry.bool(BETA));
    assert_eq!(registry.runtime().environment(), Some("development"));
    let (registry, _) = build::<6>(FLAGS, &[("APP_ENV", "")]);
    assert!(registry.bool(BETA));
}

#[test]
fn an_unknown_environment_is_an_error_and_serves_defaults() {
    let (registry, vars) = build::<6>(FLAGS, &[("APP_ENV", "prod")]);
    let error = registry.runtime().init().unwrap_err();
    assert_eq!(
        error.to_string(),
        "APP_ENV=\"prod\" is not an environment declared in flags.toml; expected one of: \
         development, staging, production (did you mean `production`?)"
    );
    assert!(matches!(error, InitError::UnknownEnvironment { .. }));
    assert!(
        !registry.bool(BETA),
        "no environment means defaults, not development's values"
    );
    assert_eq!(registry.runtime().environment(), None);

    vars.set("APP_ENV", "production");
    let report = registry.runtime().reload();
    assert!(report.is_clean(), "{report}");
    assert_eq!(registry.int(UPLOAD), 50);
    assert!(registry.runtime().init().is_ok());

    vars.set("APP_ENV", "nowhere");
    let report = registry.runtime().reload();
    assert!(
        report.problems()[0]
            .message()
            .ends_with("keeping environment `production`"),
        "{report}"
    );
    assert_eq!(registry.int(UPLOAD), 50);
}

#[test]
fn a_missing_environment_without_default_is_an_error() {
    let toml = FLAGS.replace("default = \"development\"\n", "");
    let (registry, _) = build::<6>(&toml, &[]);
    let error = registry.runtime().init().unwrap_err();
    assert!(
        matches!(error, InitError::MissingEnvironment { .. }),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("APP_ENV is not set"),
        "{error}"
    );
}

#[test]
fn env_var_overrides_are_typed_and_named() {
    let (registry, _) = build::<6>(
        FLAGS,
        &[
            ("APP_ENV", "production"),
            ("FLAGS_BETA_ENABLED", "true"),
            ("FLAGS_CHECKOUT_FLOW", "express"),
            ("FLAGS_MAX_UPLOAD_MB", "7"),
            ("FLAGS_SAMPLE_RATE", "1"),
            ("FLAGS_BANNER", "hi there"),
        ],
    );
    assert!(registry.runtime().init().unwrap().is_clean());
    assert!(registry.bool(BETA));
    assert_eq!(registry.variant(FLOW), 2);
    assert_eq!(registry.int(UPLOAD), 7);
    assert_eq!(registry.float(RATE), 1.0);
    assert_eq!(&*registry.string(BANNER), "hi there");
    assert_eq!(
        reason(registry, "beta_enabled"),
        Reason::Override {
            origin: Origin::EnvVar("FLAGS_BETA_ENABLED".into())
        }
    );
}

#[test]
fn a_bad_env_var_is_reported_and_changes_no_other_flag() {
    let (registry, vars) = build::<6>(
        FLAGS,
        &[
            ("FLAGS_BETA_ENABLED", "false"),
            ("FLAGS_MAX_UPLOAD_MB", "lots"),
            ("FLAGS_BETA_ENABLD", "1"),
        ],
    );
    let report = registry.runtime().init().unwrap();
    let problems: Vec<String> = report.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "environment variable FLAGS_MAX_UPLOAD_MB: flag `max_upload_mb`: expected an integer, found `lots`; it is ignored",
            "environment variable FLAGS_BETA_ENABLD: no flag is overridden by this variable; did you mean `FLAGS_BETA_ENABLED`?",
        ]
    );
    assert!(!registry.bool(BETA), "the good variable still applies");
    assert_eq!(registry.int(UPLOAD), 10);

    // A variable that was good and turns bad keeps its last good value.
    vars.set("FLAGS_MAX_UPLOAD_MB", "25");
    registry.runtime().reload();
    assert_eq!(registry.int(UPLOAD), 25);
    vars.set("FLAGS_MAX_UPLOAD_MB", "25MB");
    let report = registry.runtime().reload();
    assert!(
        report.problems()[0]
            .message()
            .ends_with("keeping its previous value `25`"),
        "{report}"
    );
    assert_eq!(registry.int(UPLOAD), 25);
    vars.remove("FLAGS_MAX_UPLOAD_MB");
    registry.runtime().reload();
    assert_eq!(registry.int(UPLOAD), 10);
}

fn write(path: &std::path::Path, text: &str) {
    // Written whole then renamed, as deploy tools do, so a reader never sees half a file.
    let temporary = path.with_extension("tmp");
    std::fs::File::create(&temporary)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[test]
fn overrides_file_applies_and_a_broken_one_keeps_the_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overrides.toml");
    write(
        &path,
        "[flags.beta_enabled]\nvalue = false\n\n[flags.max_upload_mb]\nproduction = 99\n",
    );
    let path_text = path.to_str().unwrap();
    let (registry, vars) = build::<6>(
        FLAGS,
        &[("FLAGS_OVERRIDES", path_text), ("APP_ENV", "production")],
    );
    assert!(registry.runtime().init().unwrap().is_clean());
    assert!(!registry.bool(BETA));
    assert_eq!(registry.int(UPLOAD), 99);
    assert_eq!(
        reason(registry, "max_upload_mb"),
        Reason::Override {
            origin: Origin::OverridesFile {
                path: path.clone(),
                line: 5
            }
        }
    );

    // Env vars outrank the file.
    vars.set("FLAGS_MAX_UPLOAD_MB", "5");
    registry.runtime().reload();
    assert_eq!(registry.int(UPLOAD), 5);
    vars.remove("FLAGS_MAX_UPLOAD_MB");

    write(
        &path,
        "[flags.beta_enabled]\nvalue = true\n\n[flags.max_upload_mb]\nproduction = \"many\"\n",
    );
    let report = registry.runtime().reload();
    assert_eq!(report.problems().len(), 1, "{report}");
    let problem = report.problems()[0].to_string();
    assert!(
        problem.contains("`production` of flag `max_upload_mb` must be an integer, like its `default`; found a string"),
        "{problem}"
    );
    assert!(
        problem.contains(&format!("--> {path_text}:5:14")),
        "{problem}"
    );
    assert!(
        problem.ends_with("the source's last good values stay in force"),
        "{problem}"
    );
    assert!(
        !registry.bool(BETA),
        "the valid half of a broken file is not applied"
    );
    assert_eq!(registry.int(UPLOAD), 99);

    write(&path, "this is not toml");
    let report = registry.runtime().reload();
    assert!(
        report.problems()[0].message().contains("invalid TOML"),
        "{report}"
    );
    assert_eq!(registry.int(UPLOAD), 99);

    std::fs::remove_file(&path).unwrap();
    let report = registry.runtime().reload();
    assert!(
        report.problems()[0].message().contains("cannot be read"),
        "{report}"
    );
    assert_eq!(registry.int(UPLOAD), 99);

    vars.remove("FLAGS_OVERRIDES");
    assert!(registry.runtime().reload().is_clean());
    assert_eq!(registry.int(UPLOAD), 50);
}

#[test]
fn an_empty_overrides_variable_means_no_file_and_the_selector_is_not_an_override() {
    let toml = FLAGS.replace(
        "default = \"development\"",
        "default = \"development\"\nvariable = \"FLAGS_ENV\"",
    );
    let (registry, _) = build::<6>(&toml, &[("FLAGS_OVERRIDES", ""), ("FLAGS_ENV", "staging")]);
    let report = registry.runtime().init().unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.environment(), Some("staging"));
}

#[test]
fn programmatic_overrides_are_checked_and_outrank_env_vars() {
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_MAX_UPLOAD_MB", "5")]);
    let runtime = registry.runtime();
    runtime.set_override("max_upload_mb", 64).unwrap();
    assert_eq!(registry.int(UPLOAD), 64);
    assert_eq!(
        reason(registry, "max_upload_mb"),
        Reason::Override {
            origin: Origin::Programmatic
        }
    );
    runtime.set_override("checkout_flow", "express").unwrap();
    assert_eq!(registry.variant(FLOW), 2);
    runtime.set_override("sample_rate", 1).unwrap();
    assert_eq!(registry.float(RATE), 1.0);

    let error = runtime.set_override("max_upload_mb", "big").unwrap_err();
    assert_eq!(
        error.to_string(),
        "flag `max_upload_mb`: expected an integer, found `big`"
    );
    assert_eq!(registry.int(UPLOAD), 64, "a refused value changes nothing");
    let error = runtime.set_override("checkout_flw", "express").unwrap_err();
    assert_eq!(
        error,
        OverrideError::UnknownFlag {
            name: "checkout_flw".into(),
            suggestion: Some("checkout_flow".into())
        }
    );
    assert!(runtime.set_override("beta_enabled", 1).is_err());

    runtime.clear_override("max_upload_mb").unwrap();
    assert_eq!(registry.int(UPLOAD), 5);
    runtime.clear_overrides();
    assert_eq!(registry.variant(FLOW), 0);
}

#[test]
fn stubs_outrank_everything_and_end_with_their_guard() {
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_BETA_ENABLED", "false")]);
    registry
        .runtime()
        .set_override("beta_enabled", false)
        .unwrap();
    assert!(!registry.bool(BETA));
    {
        let _guard = registry.stub(BETA, Value::Bool(true));
        assert!(registry.bool(BETA));
        assert_eq!(reason(registry, "beta_enabled"), Reason::Stub);
        {
            let _inner = registry.stub(BETA, Value::Bool(false));
            assert!(!registry.bool(BETA), "the newest stub wins");
        }
        assert!(registry.bool(BETA));
    }
    assert!(!registry.bool(BETA));

    let _guard = registry.stub(HUGE, Value::Int(3));
    assert_eq!(registry.int(HUGE), 3);
    let _guard = registry.stub(BANNER, Value::String("stubbed".into()));
    assert_eq!(&*registry.string(BANNER), "stubbed");
}

#[test]
fn a_panic_ends_the_stub() {
    let (registry, _) = build::<6>(FLAGS, &[("APP_ENV", "production")]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = registry.stub(BETA, Value::Bool(true));
        assert!(registry.bool(BETA));
        panic!("test failure");
    }));
    assert!(result.is_err());
    assert!(!registry.bool(BETA));
}

#[test]
fn stubs_stay_in_their_thread_unless_carried() {
    let (registry, _) = build::<6>(FLAGS, &[("APP_ENV", "production")]);
    let _guard = registry.stub(BETA, Value::Bool(true));
    assert!(registry.bool(BETA));
    let elsewhere = std::thread::spawn(|| registry.bool(BETA)).join().unwrap();
    assert!(!elsewhere, "another thread does not see this thread's stub");

    let scope = StubScope::current();
    assert_eq!(scope.len(), 1);
    let carried = std::thread::spawn(move || scope.run(|| registry.bool(BETA)))
        .join()
        .unwrap();
    assert!(carried);
}

#[test]
fn opposing_stubs_in_many_threads_never_mix() {
    let (registry, _) = build::<6>(FLAGS, &[]);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let want = i % 2 == 0;
                barrier.wait();
                for round in 0..2_000 {
                    let _guard = registry.stub(BETA, Value::Bool(want));
                    assert_eq!(registry.bool(BETA), want, "thread {i} round {round}");
                    if round % 100 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert!(
        registry.bool(BETA),
        "development's value is back once every stub is gone"
    );
}

#[test]
fn a_snapshot_never_mixes_two_configurations() {
    let toml = format!("{FLAGS}\n[flags.beta_b_enabled]\ndescription = \"B\"\ndefault = false\n");
    // Both start equal (development turns beta_enabled on), so every snapshot must agree.
    let (registry, vars) = build::<7>(
        &toml,
        &[
            ("FLAGS_BETA_ENABLED", "false"),
            ("FLAGS_BETA_B_ENABLED", "false"),
        ],
    );
    let runtime = registry.runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, reads) = (Arc::clone(&stop), Arc::clone(&reads));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let snapshot = runtime.snapshot();
                    let a = snapshot.value(BETA);
                    let b = snapshot.value(6);
                    assert_eq!(a, b, "generation {}", snapshot.generation());
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // The reloads go on until the readers have read all along them, however late the
    // readers' threads start.
    let deadline = Instant::now() + Duration::from_secs(20);
    while reads.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the readers never started");
        std::thread::yield_now();
    }
    let before = reads.load(Ordering::Relaxed);
    let mut round = 0;
    while round < 300 || reads.load(Ordering::Relaxed) < before + 1_000 {
        assert!(Instant::now() < deadline, "the readers made no progress");
        let on = if round % 2 == 0 { "true" } else { "false" };
        vars.set("FLAGS_BETA_ENABLED", on);
        vars.set("FLAGS_BETA_B_ENABLED", on);
        runtime.reload();
        assert_eq!(registry.bool(BETA), round % 2 == 0);
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader
            .join()
            .expect("no reader saw two configurations mixed");
    }
}

#[test]
fn listing_shows_every_flag_with_metadata_value_and_origin() {
    let (registry, _) = build::<6>(FLAGS, &[("APP_ENV", "staging"), ("FLAGS_BANNER", "x")]);
    let flags = registry.runtime().flags();
    let rows: Vec<String> = flags
        .iter()
        .map(|info| {
            format!(
                "{} = {} ({})",
                info.flag().key(),
                info.value(),
                info.reason()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "beta_enabled = false (flags.toml default)",
            "checkout_flow = one_page (flags.toml value for `staging`)",
            "max_upload_mb = 10 (flags.toml default)",
            "sample_rate = 0.25 (flags.toml default)",
            "banner = x (environment variable FLAGS_BANNER)",
            "huge_limit = 9007199254740993 (flags.toml default)",
        ]
    );
    assert_eq!(flags[0].flag().description(), "Beta");
}

#[test]
fn a_program_built_from_another_flags_toml_serves_its_compiled_defaults() {
    use flags_runtime::__private::{Descriptor, FlagDescriptor, Registry, StaticValue};
    static FLAGS_COMPILED: [FlagDescriptor; 1] = [FlagDescriptor {
        key: "renamed",
        default: StaticValue::Bool(true),
        native: 0,
    }];
    static DESCRIPTOR: Descriptor = Descriptor {
        path: "flags.toml",
        source: FLAGS,
        flags: &FLAGS_COMPILED,
    };
    static REGISTRY: Registry<1> = Registry::new(&DESCRIPTOR, &REGISTRY);
    assert!(REGISTRY.bool(0));
    let report = REGISTRY.runtime().init().unwrap();
    assert!(
        report.problems()[0].message().contains("do not match"),
        "{report}"
    );
}

#[test]
fn a_broken_file_loaded_at_run_time_is_refused_with_every_problem() {
    let vars: &'static MapVars = Box::leak(Box::default());
    let broken = "[flags.a]\ndescription = \"A\"\ndefault = 3\ntype = \"bool\"\n\n[flags.b]\ndefault = true\n";
    let errors = Runtime::load("tools/flags.toml", broken, vars).expect_err("a broken file");
    assert!(errors.len() >= 2, "{errors:#?}");
    assert!(
        errors.iter().all(|e| e.contains("tools/flags.toml:")),
        "{errors:#?}"
    );
}
