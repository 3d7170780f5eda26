//! How long a change of segment keys takes to reach a process that follows the Redis store,
//! by how many keys the segment already holds: the follower applies the announced change,
//! so the time should not grow with them. Then the same for a flag turned off and on (a kill
//! switch) beside a segment of that size. A real `redis-server` on loopback (started here).
//!
//! `cargo bench -p flags-benches --bench propagation`

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use flags::store::{RedisOptions, RedisStore};

#[path = "../flags-runtime/tests/common/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

const FLAGS: &str = r#"
[environments]
names = ["production"]
default = "production"

[segments.beta]
description = "Beta testers"

[flags.comments_enabled]
description = "Comments"
default = false
[[flags.comments_enabled.production.rules]]
when = [{ segment = "beta" }]
serve = true

[flags.search_enabled]
description = "Search: the kill switch"
default = true
"#;

struct NoVars;

impl flags::Vars for NoVars {
    fn get(&self, _name: &str) -> Option<Result<String, String>> {
        None
    }

    fn names_with_prefix(&self, _prefix: &str) -> Vec<String> {
        Vec::new()
    }
}

fn propagation(c: &mut Criterion) {
    let Some(server) = redis_server::RedisServer::start("propagation bench") else {
        return;
    };
    let mut group = c.benchmark_group("a change reaching a follower");
    group.sample_size(30);
    for members in [1_000usize, 1_000_000] {
        // A runtime of its own for each size; the store keeps the keys of the size before.
        let runtime = flags::Runtime::load("flags.toml", FLAGS, &NoVars).expect("valid");
        let catalog = runtime.catalog();
        let mut writer = RedisStore::connect(&server.url(), catalog, "production").expect("Redis");
        let held: Vec<String> = (0..members)
            .map(|i| format!("{members}-held-{i}"))
            .collect();
        for chunk in held.chunks(100_000) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            writer.segment_add_many("beta", &chunk).expect("a write");
        }
        let follower = runtime
            .follow_redis(RedisOptions::new(&server.url()))
            .expect("a URL");
        assert!(follower.wait_until_synced(Duration::from_secs(60)));
        let mut next = 0u64;
        group.bench_function(format!("a segment key, {members} members"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    next += 1;
                    let key = format!("{members}-new-{next}");
                    let user = flags::Context::new(key.as_str());
                    let started = Instant::now();
                    writer.segment_add("beta", &key).expect("a write");
                    while runtime
                        .explain("comments_enabled", Some(&user))
                        .and_then(|info| info.value().as_bool())
                        != Some(true)
                    {
                        std::hint::spin_loop();
                    }
                    total += started.elapsed();
                }
                total
            })
        });
        let mut on = true;
        group.bench_function(format!("a kill switch, {members} members"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    on = !on;
                    let started = Instant::now();
                    writer
                        .set("search_enabled", if on { "true" } else { "false" })
                        .expect("a write");
                    while runtime
                        .explain("search_enabled", None)
                        .and_then(|info| info.value().as_bool())
                        != Some(on)
                    {
                        std::hint::spin_loop();
                    }
                    total += started.elapsed();
                }
                total
            })
        });
        let status = follower.status();
        eprintln!(
            "{members} members: {} whole reads, {} changes applied as announced",
            status.reads, status.changes_applied
        );
    }
    group.finish();
}

criterion_group!(benches, propagation);
criterion_main!(benches);
