//! Every endpoint of the console over HTTP, against a real redis-server: access, CSRF, bad
//! input (each a clear 4xx that changes nothing), the webhooks, and Redis restarting.

mod common;

use std::time::{Duration, Instant};

use common::*;
use flags_runtime::store::RedisStore;
use reqwest::StatusCode;

fn store(redis: &RedisServer, environment: &str) -> RedisStore {
    let (path, text) = flags_toml();
    let catalog = flags_model::parse(&flags_model::SourceFile::new(&path, &text)).catalog;
    RedisStore::connect(&redis.url(), &catalog, environment).unwrap()
}

/// What the store of `environment` holds, in a few words, and its audit log's length.
fn snapshot(redis: &RedisServer, environment: &str) -> (String, usize) {
    let mut store = store(redis, environment);
    let contents = store.list().unwrap();
    let words = format!(
        "{:?} {:?} v{}",
        contents
            .overrides
            .iter()
            .map(|o| (o.flag.clone(), o.text.clone()))
            .collect::<Vec<_>>(),
        contents.segments,
        contents.version
    );
    (words, store.audit_log(None, 1000).unwrap().len())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_session_pages_send_to_the_login_and_changes_are_refused() {
    let Some(redis) = RedisServer::start("console without login") else {
        return;
    };
    let base = start_console(&redis).await;
    let client = client();
    for page in [
        "/flags",
        "/flags/max_upload_mb",
        "/segments",
        "/audit",
        "/status",
    ] {
        let response = client.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(response.headers()["location"], "/login", "{page}");
    }
    let before = snapshot(&redis, "production");
    let response = client
        .post(format!(
            "{base}/environments/production/flags/max_upload_mb/value"
        ))
        .form(&[("value", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("not logged in"));
    // A forged session cookie is no session.
    let response = client
        .post(format!(
            "{base}/environments/production/flags/max_upload_mb/value"
        ))
        .header("cookie", "flags_console=0000")
        .form(&[("value", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(snapshot(&redis, "production"), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_sets_a_secure_http_only_same_site_cookie_and_failed_logins_are_limited() {
    let Some(redis) = RedisServer::start("console login") else {
        return;
    };
    let base = start_console(&redis).await;
    let client = client();
    // Login CSRF: without the form's value, or with one that is not its cookie's, no login.
    let response = client
        .post(format!("{base}/login"))
        .form(&[("token", EDITOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        !response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("flags_console="),
        "no session"
    );
    let (cookie, _) = login_form(&client, &base).await;
    let (_, other_form) = login_form(&client, &base).await;
    let response = client
        .post(format!("{base}/login"))
        .header("cookie", cookie)
        .form(&[("token", EDITOR), ("csrf", other_form.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post_login(&client, &base, EDITOR).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(EDITOR), "no secret in the cookie");
    for header in [
        "content-security-policy",
        "x-frame-options",
        "cache-control",
    ] {
        assert!(response.headers().contains_key(header), "{header}");
    }
    for attempt in 0..5 {
        let response = post_login(&client, &base, "not-a-token-at-all-000").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // Then even the right token waits.
    let response = post_login(&client, &base, EDITOR).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = client
        .post(format!("{base}/login"))
        .form(&[("nothing", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_need_the_csrf_token_and_the_role_for_their_environment() {
    let Some(redis) = RedisServer::start("console roles") else {
        return;
    };
    let base = start_console(&redis).await;
    let before = snapshot(&redis, "production");
    let editor = Session::login(&base, EDITOR).await;
    let path = "/environments/production/flags/max_upload_mb/value";
    let (status, page) = editor.post_raw(path, &[("value", "30")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    assert!(page.contains("security token"), "{page}");
    let (status, _) = editor
        .post_raw(path, &[("csrf", &"0".repeat(64)), ("value", "30")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let viewer = Session::login(&base, VIEWER).await;
    let (status, page) = viewer.post(path, &[("value", "30")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("bob (viewer) may not change"), "{page}");
    let (_, flag_page) = viewer.get("/flags/max_upload_mb").await;
    assert!(!flag_page.contains("Set the value in production"));
    assert!(flag_page.contains("You may see production, not change it."));
    let carol = Session::login(&base, STAGING_EDITOR).await;
    let (status, _) = carol.post(path, &[("value", "30")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an editor of staging only");
    assert_eq!(snapshot(&redis, "production"), before);
    let (status, _) = carol
        .post(
            "/environments/staging/flags/max_upload_mb/value",
            &[("value", "30")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = editor.post("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = editor.get("/flags").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let Some(redis) = RedisServer::start("console bad input") else {
        return;
    };
    let base = start_console(&redis).await;
    let editor = Session::login(&base, EDITOR).await;
    let before = snapshot(&redis, "production");
    /// Path, form fields, the status expected, what the page says.
    type Case = (
        &'static str,
        Vec<(&'static str, String)>,
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "/environments/production/flags/no_such_flag/value",
            vec![("value", "true".into())],
            StatusCode::NOT_FOUND,
            "unknown flag",
        ),
        (
            "/environments/prod/flags/max_upload_mb/value",
            vec![("value", "30".into())],
            StatusCode::NOT_FOUND,
            "no environment `prod`",
        ),
        (
            "/environments/production/flags/max_upload_mb/value",
            vec![("value", "lots".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected an integer",
        ),
        (
            "/environments/production/flags/checkout_flow/value",
            vec![("value", "fast".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "fast",
        ),
        (
            "/environments/production/flags/max_upload_mb/value",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "incomplete",
        ),
        (
            "/environments/production/flags/new_feature_enabled/rollout",
            vec![("percent", "150".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "0 to 100",
        ),
        (
            "/environments/production/flags/max_upload_mb/rollout",
            vec![("percent", "50".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a bool flag",
        ),
        (
            "/environments/production/segments/betta/add",
            vec![("keys", "u-1".into())],
            StatusCode::NOT_FOUND,
            "no segment",
        ),
        (
            "/environments/production/segments/beta/add",
            vec![("keys", " , ".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one key",
        ),
        (
            "/environments/production/segments/beta/add",
            vec![("keys", (0..1001).map(|i| format!("u-{i}\n")).collect())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "1000 allowed",
        ),
        (
            "/environments/production/segments/beta/add",
            vec![("keys", "x".repeat(300))],
            StatusCode::UNPROCESSABLE_ENTITY,
            "longer than",
        ),
        (
            "/environments/production/segments/beta/add",
            vec![("keys", "u".repeat(70_000))],
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
    ];
    for (path, fields, expected, says) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, page) = editor.post(path, &fields).await;
        assert_eq!(status, expected, "{path} {fields:?}: {page}");
        assert!(page.contains(says), "{path}: {page}");
    }
    let (status, _) = editor.get("/flags/no_such_flag").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = editor.get("/environments/production/segments/betta").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = editor.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = editor
        .get("/flags/max_upload_mb?environment=production&key=u-1&attributes=seats%3Anum%3Dmany")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("not a number"), "explain says what is wrong");
    assert_eq!(snapshot(&redis, "production"), before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_change_is_written_checked_and_in_the_audit_log() {
    let Some(redis) = RedisServer::start("console changes") else {
        return;
    };
    let base = start_console(&redis).await;
    let editor = Session::login(&base, EDITOR).await;
    let flag = "/environments/production/flags/product-TASKS-103-comments";
    let (status, to) = editor
        .post(&format!("{flag}/value"), &[("value", "false")])
        .await;
    assert_eq!(
        (status, to.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/flags/product-TASKS-103-comments#env-production"
        )
    );
    let (_, page) = editor.get("/flags/product-TASKS-103-comments").await;
    assert!(
        page.contains("Set product-TASKS-103-comments to false in production"),
        "the flash"
    );
    assert!(page.contains("override in the store"));
    let (status, _) = editor
        .post(
            "/environments/production/flags/new_feature_enabled/rollout",
            &[("percent", "25")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = editor
        .post(
            "/environments/production/flags/new_feature_enabled/rollout",
            &[("percent", "50")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = editor.get("/flags?q=new_feature").await;
    assert!(page.contains("rollout 50%"), "{page}");
    assert!(
        !page.contains("checkout_flow"),
        "the search keeps matching flags only"
    );
    let (status, _) = editor.post(&format!("{flag}/clear"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = editor
        .post(
            "/environments/production/segments/beta/add",
            &[("keys", "u-7\nu-8, u-9")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = editor
        .post(
            "/environments/production/segments/beta/remove",
            &[("key", "u-8")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = editor.get("/environments/production/segments/beta").await;
    assert!(page.contains("Remove u-7 from beta") && page.contains("Remove u-9 from beta"));
    assert!(!page.contains("Remove u-8 from beta"));

    let mut store = store(&redis, "production");
    let contents = store.list().unwrap();
    let rollout = contents
        .overrides
        .iter()
        .find(|o| o.flag == "new_feature_enabled")
        .unwrap();
    assert_eq!(
        rollout.text,
        "[flags.new_feature_enabled.value]\nrollout = 50\n"
    );
    let log = store.audit_log(None, 100).unwrap();
    let lines: Vec<String> = log
        .iter()
        .map(|e| format!("{} {} {} {}", e.actor, e.via, e.action, e.after))
        .collect();
    assert_eq!(lines.len(), 6, "one entry per change: {lines:#?}");
    let pasted = log
        .iter()
        .find(|e| e.action == "segment add")
        .expect("the pasted keys' entry");
    assert_eq!(
        (pasted.key.as_deref(), pasted.after.as_str()),
        (Some("u-7, u-8, u-9"), "3 keys added"),
        "the entry names the keys pasted"
    );
    assert_eq!(
        lines[0],
        "ada console segment remove not listed (removed in the store)"
    );
    assert!(
        lines.contains(&"ada console set rollout true 50% / false 50%".to_owned()),
        "{lines:#?}"
    );
    let (_, audit) = editor.get("/audit?flag=new_feature_enabled").await;
    assert_eq!(
        audit.matches("<td>ada (console)</td>").count(),
        2,
        "{audit}"
    );
    let (_, history) = editor.get("/flags/new_feature_enabled").await;
    assert!(
        history.contains("rollout true 25% / false 75%"),
        "the flag's history"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_beside_rules_keeps_them_and_raising_it_only_adds_users() {
    let Some(redis) = RedisServer::start("console rollout beside rules") else {
        return;
    };
    let base = start_console(&redis).await;
    let editor = Session::login(&base, EDITOR).await;
    let (_, page) = editor.get("/flags/product-TASKS-103-comments").await;
    assert!(page.contains("Its 2 rules stay"), "{page}");
    let rollout = "/environments/production/flags/product-TASKS-103-comments/rollout";
    let explain = |key: String, attributes: &'static str| {
        let editor = &editor;
        async move {
            let (status, page) = editor
                .get(&format!(
                    "/flags/product-TASKS-103-comments?environment=production&key={key}&attributes={attributes}"
                ))
                .await;
            assert_eq!(status, StatusCode::OK);
            page.contains(&format!("for key {key}: <strong>true</strong>"))
        }
    };
    let mut shares = Vec::new();
    for percent in ["10", "40"] {
        let (status, _) = editor.post(rollout, &[("percent", percent)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, list) = editor.get("/flags?q=product-TASKS").await;
        assert!(
            list.contains(&format!("rules (2), else rollout {percent}%")),
            "{list}"
        );
        // Staff keep the feature through their rule, whatever the share.
        assert!(explain("u-staff".into(), "email%3Dada%40example.com").await);
        let mut on = Vec::new();
        for user in 0..100 {
            if explain(format!("u-{user}"), "email%3Dbob%40customer.test").await {
                on.push(user);
            }
        }
        shares.push(on);
    }
    let (at_10, at_40) = (&shares[0], &shares[1]);
    assert!(
        at_10.iter().all(|user| at_40.contains(user)),
        "everyone who had it at 10% has it at 40%: {at_10:?} {at_40:?}"
    );
    assert!(
        (2..=25).contains(&at_10.len()) && (25..=60).contains(&at_40.len()),
        "about a tenth, then about two fifths: {} and {}",
        at_10.len(),
        at_40.len()
    );
    let mut store = store(&redis, "production");
    let held = store
        .entry("product-TASKS-103-comments")
        .unwrap()
        .expect("an override");
    assert!(
        held.text.contains("name = \"staff\"") && held.text.contains("name = \"beta testers\""),
        "the rules, as flags.toml names them: {}",
        held.text
    );
    let (_, page) = editor.get("/flags/product-TASKS-103-comments").await;
    assert!(
        !page.contains("rules of its own"),
        "a copy of flags.toml's rules"
    );
    // Rules that are not flags.toml's (another writer's, or flags.toml changed since): said.
    store
        .set_entry(
            "product-TASKS-103-comments",
            "[[flags.product-TASKS-103-comments.value.rules]]\n\
             when = [{ segment = \"internal\" }]\nserve = true\n",
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = editor.get("/flags/product-TASKS-103-comments").await;
        if page.contains(
            "The override in the store serves rules of its own (1 rule), not those flags.toml \
             has for this environment (2 rules)",
        ) {
            break;
        }
        assert!(Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn intercom_notifications_are_verified_mapped_and_never_applied_twice() {
    let Some(redis) = RedisServer::start("console intercom") else {
        return;
    };
    let base = start_console(&redis).await;
    let tagged = intercom_notification(
        "notif_1",
        "user.tag.created",
        "Beta: comments",
        "u-42",
        now(),
    );
    let before = snapshot(&redis, "production");
    for (body, secret, expected) in [
        (tagged.clone(), "wrong-secret", StatusCode::UNAUTHORIZED),
        (
            intercom_notification("notif_2", "user.tag.created", "VIP", "u-42", now()),
            INTERCOM_SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            intercom_notification(
                "notif_3",
                "user.tag.created",
                "Beta: comments",
                "u-42",
                now() - 3600,
            ),
            INTERCOM_SECRET,
            StatusCode::CONFLICT,
        ),
        (
            intercom_notification(
                "notif_4",
                "conversation.user.created",
                "Beta: comments",
                "u-42",
                now(),
            ),
            INTERCOM_SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "{not json".to_owned(),
            INTERCOM_SECRET,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = post_intercom(&base, &body, secret).await;
        assert_eq!(status, expected, "{answer}");
        assert!(answer.contains("\"changed\":false"), "{answer}");
    }
    // Signed over the raw body: the same JSON re-serialised is another body.
    let response = client()
        .post(format!("{base}/webhooks/intercom"))
        .header("x-hub-signature", "sha1=")
        .body(tagged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(snapshot(&redis, "production"), before, "nothing changed");

    let (status, answer) = post_intercom(&base, &tagged, INTERCOM_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("\"changed\":true"));
    let (status, _) = post_intercom(&base, &tagged, INTERCOM_SECRET).await;
    assert_eq!(status, StatusCode::CONFLICT, "a replay");
    let mut store = store(&redis, "production");
    assert_eq!(store.list().unwrap().segments[1].added, ["u-42"]);
    let untagged = intercom_notification(
        "notif_5",
        "user.tag.deleted",
        "Beta: comments",
        "u-42",
        now(),
    );
    let (status, _) = post_intercom(&base, &untagged, INTERCOM_SECRET).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.list().unwrap().segments[1].removed, ["u-42"]);
    let log = store.audit_log(None, 10).unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|e| e.actor == "intercom" && e.via == "webhook")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generic_webhook_needs_its_token_and_a_declared_segment() {
    let Some(redis) = RedisServer::start("console generic webhook") else {
        return;
    };
    let base = start_console(&redis).await;
    let client = client();
    let post = |token: &'static str, body: serde_json::Value| {
        let request = client
            .post(format!("{base}/webhooks/segments"))
            .header("authorization", format!("Bearer {token}"))
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let change = serde_json::json!({"environment": "production", "segment": "beta", "key": "u-5", "actor": "crm"});
    let before = snapshot(&redis, "production");
    assert_eq!(
        post("wrong-token-0123456789", change.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    for (bad, expected) in [
        (
            serde_json::json!({"environment": "production", "segment": "betta", "key": "u-5"}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"environment": "prod", "segment": "beta", "key": "u-5"}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"environment": "production", "segment": "beta", "key": "u-5", "action": "toggle"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"segment": "beta"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        assert_eq!(post(WEBHOOK_TOKEN, bad.clone()).await.0, expected, "{bad}");
    }
    assert_eq!(snapshot(&redis, "production"), before);
    let (status, answer) = post(WEBHOOK_TOKEN, change).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let log = store(&redis, "production").audit_log(None, 10).unwrap();
    assert_eq!(
        (log[0].actor.as_str(), log[0].via.as_str()),
        ("crm", "webhook")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn while_redis_restarts_the_console_says_so_and_refuses_changes() {
    let Some(mut redis) = RedisServer::start("console while Redis restarts") else {
        return;
    };
    let base = start_console(&redis).await;
    let editor = Session::login(&base, EDITOR).await;
    let path = "/environments/production/flags/max_upload_mb/value";
    assert_eq!(
        editor.post(path, &[("value", "30")]).await.0,
        StatusCode::SEE_OTHER
    );
    redis.kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, page) = editor.get("/flags").await;
        assert_eq!(status, StatusCode::OK);
        if page.contains("is unreachable") {
            assert!(page.contains("changes are refused"), "{page}");
            assert!(
                page.contains("<td class=\"override\">30"),
                "the last values read stay: {page}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the console never said Redis is away"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, page) = editor.post(path, &[("value", "40")]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(page.contains("Not changed"), "{page}");
    // Back, empty (no persistence): the console follows the emptied store's state and the
    // write goes in once it is connected again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page) = editor.get("/flags").await;
        if !page.contains("is unreachable") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the console never saw Redis back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, page) = editor.post(path, &[("value", "40")]).await;
    // The console's followers found the store emptied: it awaits a restore, and the write is
    // refused until an operator restores it.
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("awaits a restore"), "{page}");
    let (_, flags) = editor.get("/flags").await;
    assert!(flags.contains("awaits a restore"), "{flags}");
}
