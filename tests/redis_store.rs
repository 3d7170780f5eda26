//! The facade's `redis` feature: a compiled `Flags` follows the Redis store, and a check
//! (one atomic load) sees each change. Needs a `redis-server` on the PATH (skipped with a
//! notice without one, unless REQUIRE_REDIS_SERVER=1).

#[path = "../flags-runtime/tests/common/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use flags::store::{RedisOptions, RedisStore};
use flags::{Origin, Reason};

flags::declare!();

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn compiled_flags_follow_the_store() {
    let Some(server) = redis_server::RedisServer::start("compiled_flags_follow_the_store") else {
        return;
    };
    let runtime = Flags::runtime();
    let environment = runtime.environment().expect("the default environment");
    let follower = runtime
        .follow_redis(RedisOptions::new(&server.url()))
        .expect("a valid URL");
    assert!(follower.wait_until_synced(Duration::from_secs(5)));
    let mut store =
        RedisStore::connect(&server.url(), runtime.catalog(), environment).expect("connect");

    store.set("max_upload_mb", "64").expect("an integer");
    wait_until("the value", || Flags::max_upload_mb() == 64);
    assert!(matches!(
        runtime.explain("max_upload_mb", None).unwrap().reason(),
        Reason::Override {
            origin: Origin::Store { .. }
        }
    ));

    // `beta` only targets in production: the membership itself is checked here.
    store
        .segment_add("beta", "u-42")
        .expect("a declared segment");
    wait_until("the member", || {
        runtime.segment_keys("beta").expect("declared") == ["u-42"]
    });

    store.unset("max_upload_mb").expect("written");
    wait_until("the compiled value", || Flags::max_upload_mb() != 64);
    drop(follower);
}
