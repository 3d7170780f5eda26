//! Live changes without a restart: a watched overrides file, and sources an application adds.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flags_runtime::{
    Catalog, Layer, Loaded, Origin, Problem, Reason, Source, Value, Vars, WatchOptions,
};

/// Replaces `path` whole, by rename, as editors and deploy tools do.
fn replace(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).expect("write");
    std::fs::rename(&temporary, path).expect("rename");
}

fn upload(mb: i64) -> String {
    format!("[flags.max_upload_mb]\nvalue = {mb}\n")
}

/// Waits up to 5 s for `condition`.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn replaced_ten_times_then_broken(options: WatchOptions, polled: bool) {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("overrides.toml");
    std::fs::write(&path, upload(1)).expect("write");
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().expect("UTF-8"))]);
    assert_eq!(registry.int(UPLOAD), 1);
    let watch = registry
        .runtime()
        .watch_overrides_with(options)
        .expect("a file");
    assert_eq!(watch.path(), path);
    assert_eq!(watch.polling().is_some(), polled, "{:?}", watch.polling());

    for mb in 2..=11 {
        replace(&path, &upload(mb));
    }
    wait_until("the last content is read", || registry.int(UPLOAD) == 11);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(registry.int(UPLOAD), 11);
    assert!(registry.runtime().report().is_clean());

    // An invalid replacement is rejected whole, with file, line and reason.
    let reloads = watch.reloads();
    replace(
        &path,
        "[flags.checkout_flow]\nvalue = \"express\"\n[flags.max_upload_mb]\nvalue = \"lots\"\n",
    );
    wait_until("the invalid file is read", || watch.reloads() > reloads);
    assert_eq!(registry.int(UPLOAD), 11, "the last good content stays");
    assert_eq!(
        registry.variant(FLOW),
        0,
        "nothing of the invalid file applies"
    );
    let report = watch.last_report().expect("a read");
    assert_eq!(report, registry.runtime().report());
    let [problem] = report.problems() else {
        panic!("one problem: {report}");
    };
    let shown = format!("{}:4:9", path.display());
    assert!(
        problem.message().contains(&shown)
            && problem.message().contains("must be an integer")
            && problem
                .message()
                .ends_with("the source's last good values stay in force"),
        "{problem}"
    );

    // Fixed again: followed again.
    replace(&path, &upload(12));
    wait_until("the fixed file is read", || registry.int(UPLOAD) == 12);
    assert!(registry.runtime().report().is_clean());

    // Dropped: no longer followed.
    drop(watch);
    replace(&path, &upload(13));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(registry.int(UPLOAD), 12);
}

#[test]
fn a_watched_file_replaced_by_rename_ends_in_its_last_valid_content() {
    let options = WatchOptions::default();
    replaced_ten_times_then_broken(options, false);
}

#[test]
fn a_polled_file_is_followed_too() {
    let options = WatchOptions::default()
        .polling()
        .poll_interval(Duration::from_millis(20));
    replaced_ten_times_then_broken(options, true);
}

#[test]
fn watching_needs_an_overrides_file() {
    let (registry, _) = build::<6>(FLAGS, &[]);
    let error = registry.runtime().watch_overrides().unwrap_err();
    assert_eq!(
        error.to_string(),
        "no overrides file to watch: FLAGS_OVERRIDES is not set; set it to the file's path"
    );
}

/// An application's own source: values it was handed, read without I/O.
struct Handed(Arc<Mutex<Vec<(usize, Value)>>>);

impl Source for Handed {
    fn load(&self, catalog: &Catalog, _environment: Option<usize>, _vars: &dyn Vars) -> Loaded {
        let mut layer = Layer::new(catalog.flags().len());
        for (index, value) in self.0.lock().unwrap().iter() {
            let origin = Origin::Store {
                store: "admin".into(),
                entry: format!("#{index}"),
            };
            layer.set(*index, value.clone(), origin);
        }
        Loaded::Values {
            layer,
            rejected: Vec::new(),
        }
    }
}

#[test]
fn an_added_source_ranks_between_environment_variables_and_the_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("overrides.toml");
    std::fs::write(
        &path,
        "[flags.max_upload_mb]\nvalue = 2\n[flags.sample_rate]\nvalue = 0.5\n",
    )
    .expect("write");
    let (registry, _) = build::<6>(
        FLAGS,
        &[
            ("FLAGS_OVERRIDES", path.to_str().expect("UTF-8")),
            ("FLAGS_CHECKOUT_FLOW", "express"),
        ],
    );
    let values = Arc::new(Mutex::new(vec![
        (UPLOAD, Value::Int(3)),
        (
            FLOW,
            Value::Variant {
                index: 1,
                name: "one_page".into(),
            },
        ),
    ]));
    let handle = registry.runtime().add_source(Handed(Arc::clone(&values)));
    assert_eq!(registry.int(UPLOAD), 3, "above the file");
    assert_eq!(registry.variant(FLOW), 2, "below environment variables");
    assert_eq!(
        registry.float(RATE),
        0.5,
        "the file where the source is silent"
    );
    assert_eq!(
        *registry
            .runtime()
            .explain("max_upload_mb", None)
            .unwrap()
            .reason(),
        Reason::Override {
            origin: Origin::Store {
                store: "admin".into(),
                entry: format!("#{UPLOAD}")
            }
        }
    );

    // A value of the wrong type is reported and its last good value stays.
    values.lock().unwrap()[0] = (UPLOAD, Value::Bool(true));
    let report = handle.reload();
    assert_eq!(registry.int(UPLOAD), 3);
    assert_eq!(
        report.problems(),
        [Problem::new(
            format!("admin, #{UPLOAD}"),
            Some("max_upload_mb"),
            "expected an integer, found `true`; keeping its previous value `3`"
        )]
    );

    // Removed: what it set is gone.
    handle.remove();
    assert_eq!(registry.int(UPLOAD), 2);
    assert!(registry.runtime().report().is_clean());
}

#[test]
fn a_source_that_fails_keeps_its_last_good_values() {
    struct Flaky(Arc<Mutex<Option<i64>>>);
    impl Source for Flaky {
        fn load(&self, catalog: &Catalog, _: Option<usize>, _: &dyn Vars) -> Loaded {
            match *self.0.lock().unwrap() {
                Some(mb) => {
                    let mut layer = Layer::new(catalog.flags().len());
                    layer
                        .set_checked(catalog, "max_upload_mb", mb, Origin::Programmatic)
                        .expect("an integer");
                    Loaded::Values {
                        layer,
                        rejected: Vec::new(),
                    }
                }
                None => Loaded::Failed(vec![Problem::new("flaky", None, "unreachable")]),
            }
        }
    }
    let (registry, _) = build::<6>(FLAGS, &[]);
    let state = Arc::new(Mutex::new(Some(7)));
    let handle = registry.runtime().add_source(Flaky(Arc::clone(&state)));
    assert_eq!(registry.int(UPLOAD), 7);
    *state.lock().unwrap() = None;
    let report = handle.reload();
    assert_eq!(registry.int(UPLOAD), 7);
    assert_eq!(
        report.problems()[0].to_string(),
        "flaky: unreachable; the source's last good values stay in force"
    );
    // A full reload reads it too, and its problem stays until it reads well.
    assert!(!registry.runtime().reload().is_clean());
    *state.lock().unwrap() = Some(8);
    assert!(handle.reload().is_clean());
    assert_eq!(registry.int(UPLOAD), 8);
}

#[test]
fn a_source_that_panics_is_reported_and_the_runtime_goes_on() {
    struct Buggy(Arc<Mutex<Option<i64>>>);
    impl Source for Buggy {
        fn load(&self, catalog: &Catalog, _: Option<usize>, _: &dyn Vars) -> Loaded {
            let Some(mb) = *self.0.lock().unwrap() else {
                panic!("index out of bounds in the source");
            };
            let mut layer = Layer::new(catalog.flags().len());
            layer
                .set_checked(catalog, "max_upload_mb", mb, Origin::Programmatic)
                .expect("an integer");
            Loaded::Values {
                layer,
                rejected: Vec::new(),
            }
        }

        fn name(&self) -> String {
            "buggy source".to_owned()
        }
    }
    let (registry, _) = build::<6>(FLAGS, &[]);
    let state = Arc::new(Mutex::new(Some(7)));
    let handle = registry.runtime().add_source(Buggy(Arc::clone(&state)));
    assert_eq!(registry.int(UPLOAD), 7);
    *state.lock().unwrap() = None;
    let report = handle.reload();
    assert_eq!(registry.int(UPLOAD), 7, "its last good values stay");
    assert_eq!(
        report.problems()[0].to_string(),
        "buggy source: reading it panicked: index out of bounds in the source; \
         the source's last good values stay in force"
    );
    // Every other change still gets through, and the source itself once it reads well.
    registry
        .runtime()
        .set_override("beta_enabled", false)
        .unwrap();
    assert!(!registry.bool(BETA));
    *state.lock().unwrap() = Some(8);
    assert!(handle.reload().is_clean());
    assert_eq!(registry.int(UPLOAD), 8);
}

#[test]
fn the_watcher_applies_every_good_version_after_a_bad_one() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("overrides.toml");
    std::fs::write(&path, upload(1)).expect("write");
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().expect("UTF-8"))]);
    let watch = registry.runtime().watch_overrides().expect("a file");
    let versions: [(&str, i64, bool); 6] = [
        ("[flags.max_upload_mb]\r\nvalue = 2\r\n", 2, true),
        // A CRLF file cut between `\r` and `\n`: invalid, the last good one stays.
        ("[flags.max_upload_mb]\r\nvalue = 3\r", 2, false),
        ("[flags.max_upload_mb]\nvalue = 4\n", 4, true),
        ("\r", 4, false),
        // A table left over for a flag flags.toml no longer has: skipped, the rest applies.
        (
            "[flags.gone_enabled]\nvalue = true\n[flags.max_upload_mb]\nvalue = 5\n",
            5,
            false,
        ),
        ("[flags.max_upload_mb]\nvalue = 6\n", 6, true),
    ];
    for (text, expected, clean) in versions {
        let reloads = watch.reloads();
        replace(&path, text);
        wait_until(&format!("{text:?} is read"), || watch.reloads() > reloads);
        assert_eq!(registry.int(UPLOAD), expected, "after {text:?}");
        let report = watch.last_report().expect("a read");
        assert_eq!(report.is_clean(), clean, "after {text:?}: {report}");
        if !clean {
            assert!(
                report.problems()[0].source().starts_with("overrides file"),
                "{report}"
            );
        }
    }
}

#[test]
fn a_source_changes_segment_keys_one_at_a_time_without_being_read_again() {
    const SEGMENTS: &str = r#"
[environments]
names = ["production"]
default = "production"

[segments.beta]
description = "Beta testers"
keys = ["u-1"]

[flags.comments_enabled]
description = "Comments"
default = false
[[flags.comments_enabled.production.rules]]
when = [{ segment = "beta" }]
serve = true
"#;
    /// Counts its reads: the changes below must not read it.
    struct Counted(Arc<Mutex<u32>>);
    impl Source for Counted {
        fn load(&self, catalog: &Catalog, _: Option<usize>, _: &dyn Vars) -> Loaded {
            *self.0.lock().unwrap() += 1;
            let mut layer = Layer::new(catalog.flags().len());
            layer
                .add_to_segment(catalog, "beta", "u-2")
                .expect("a segment");
            Loaded::Values {
                layer,
                rejected: Vec::new(),
            }
        }
    }
    let (registry, _) = build::<1>(SEGMENTS, &[]);
    let runtime = registry.runtime();
    let reads = Arc::new(Mutex::new(0));
    let source = runtime.add_source(Counted(Arc::clone(&reads)));
    let member = |key: &str| registry.bool_for(0, &flags_runtime::Context::new(key));
    assert!(member("u-1") && member("u-2") && !member("u-3"));
    source
        .add_to_segment("beta", ["u-3", "u-4"])
        .expect("a segment");
    source
        .remove_from_segment("beta", ["u-1"])
        .expect("a segment");
    assert!(member("u-3") && member("u-4"), "added by the source");
    assert!(!member("u-1"), "a key of flags.toml removed by the source");
    assert_eq!(
        *reads.lock().unwrap(),
        1,
        "the source was read once, when added"
    );
    // The program's own changes rank above the source's.
    runtime
        .remove_from_segment("beta", "u-3")
        .expect("a segment");
    source.add_to_segment("beta", ["u-3"]).expect("a segment");
    assert!(
        !member("u-3"),
        "removed by the program, whatever the source says"
    );
    assert!(source.add_to_segment("betta", ["u-5"]).is_err());
}

#[test]
fn a_directory_replaced_whole_is_still_followed() {
    let parent = tempfile::tempdir().expect("a directory");
    let dir = parent.path().join("config");
    std::fs::create_dir(&dir).expect("create config/");
    let path = dir.join("overrides.toml");
    std::fs::write(&path, upload(1)).expect("write");
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().expect("UTF-8"))]);
    assert_eq!(registry.int(UPLOAD), 1);
    let options = WatchOptions::default().resync_every(Duration::from_millis(200));
    let watch = registry
        .runtime()
        .watch_overrides_with(options)
        .expect("a file");
    assert_eq!(watch.polling(), None, "events");

    // A deploy that replaces the whole directory: its watch ends with it, and no event tells
    // of the new one.
    std::fs::remove_dir_all(&dir).expect("remove config/");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        registry.int(UPLOAD),
        1,
        "a missing file keeps the last good values"
    );
    std::fs::create_dir(&dir).expect("create config/ again");
    std::fs::write(&path, upload(2)).expect("write");
    wait_until("the file in the new directory is read", || {
        registry.int(UPLOAD) == 2
    });
    assert!(watch.rewatched() >= 1, "the new directory is watched");
    replace(&path, &upload(3));
    wait_until("and its next change", || registry.int(UPLOAD) == 3);
    assert!(registry.runtime().report().is_clean());
}

/// A Kubernetes ConfigMap volume: the file is a link through `..data`, a link to a directory
/// of this version's files, swapped by rename for the next version's.
#[cfg(unix)]
#[test]
fn a_config_map_update_is_followed() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().expect("a directory");
    let version = |name: &str, mb: i64| {
        std::fs::create_dir(dir.path().join(name)).expect("a version's directory");
        std::fs::write(dir.path().join(name).join("overrides.toml"), upload(mb)).expect("write");
    };
    version("..2026_12_07_a", 1);
    symlink("..2026_12_07_a", dir.path().join("..data")).expect("link ..data");
    let path = dir.path().join("overrides.toml");
    symlink("..data/overrides.toml", &path).expect("link the file");
    let (registry, _) = build::<6>(FLAGS, &[("FLAGS_OVERRIDES", path.to_str().expect("UTF-8"))]);
    assert_eq!(registry.int(UPLOAD), 1);
    // No comparison but the events' within the test's time.
    let options = WatchOptions::default().resync_every(Duration::from_secs(60));
    let watch = registry
        .runtime()
        .watch_overrides_with(options)
        .expect("a file");

    for (mb, name) in [(2, "..2026_12_07_b"), (3, "..2026_12_07_c")] {
        version(name, mb);
        symlink(name, dir.path().join("..data_tmp")).expect("link ..data_tmp");
        std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data"))
            .expect("swap ..data");
        wait_until("the new version is read", || registry.int(UPLOAD) == mb);
    }
    assert!(registry.runtime().report().is_clean());
    assert_eq!(watch.rewatched(), 0, "events told of every change");
}
