//! Refresh-token rotation: reuse detection, the idempotent grace window,
//! concurrency, lifetimes and session eviction.

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, Server, verify_independently};

#[tokio::test]
async fn rotation_and_reuse_after_the_window_revokes_the_family() {
    let s = Server::start(&[]).await;
    let login = s.signed_in("amy@example.com").await;
    let t0 = login.str("refresh_token");
    s.clock.advance(30);
    let r1 = s.browser_refresh(&t0).await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    assert_eq!(r1.body["token_type"], "Bearer");
    assert_eq!(r1.body["session_id"], login.body["session_id"]);
    let t1 = r1.str("refresh_token");
    assert_ne!(t0, t1);
    assert!(!r1.cookie("edgeauth_refresh").is_empty());
    assert_eq!(
        s.get_bearer("/auth/me", &r1.str("access_token"))
            .await
            .status,
        200
    );

    // Outside the 10 s window the old token is a replay: family revoked.
    s.clock.advance(11);
    s.refresh(&t0)
        .await
        .assert_problem(401, "refresh_token_reused");
    s.refresh(&t1)
        .await
        .assert_problem(401, "invalid_refresh_token");
    s.get_bearer("/auth/me", &r1.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    s.refresh("not-a-token")
        .await
        .assert_problem(401, "invalid_refresh_token");
    s.post_json("/auth/refresh", json!({}))
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn a_retry_inside_the_window_gets_the_same_successor() {
    let s = Server::start(&[]).await;
    let t0 = s.signed_in("ben@example.com").await.str("refresh_token");
    let first = s.refresh(&t0).await;
    s.clock.advance(5);
    let retry = s.refresh(&t0).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    let t1 = first.str("refresh_token");
    assert_eq!(retry.str("refresh_token"), t1, "a second live branch");

    // The successor moves on; now t0 is a grandparent: replaying it inside
    // the window still revokes the family, current child included.
    let t2 = s.refresh(&t1).await.str("refresh_token");
    s.refresh(&t0)
        .await
        .assert_problem(401, "refresh_token_reused");
    s.refresh(&t2)
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn the_retried_parent_is_stale_once_its_child_was_used() {
    let s = Server::start(&[]).await;
    let t0 = s.signed_in("cid@example.com").await.str("refresh_token");
    let t1 = s.refresh(&t0).await.str("refresh_token");
    let t2 = s.refresh(&t1).await.str("refresh_token");
    // t1 was just rotated, but its successor t2 is unused: idempotent.
    assert_eq!(s.refresh(&t1).await.str("refresh_token"), t2);
    let t3 = s.refresh(&t2).await.str("refresh_token");
    // t1's successor t2 is now used: t1 is stale, the family goes.
    s.refresh(&t1)
        .await
        .assert_problem(401, "refresh_token_reused");
    s.refresh(&t3)
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn strict_mode_has_no_window() {
    let s = Server::start(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let t0 = s.signed_in("dee@example.com").await.str("refresh_token");
    let t1 = s.refresh(&t0).await.str("refresh_token");
    s.refresh(&t0)
        .await
        .assert_problem(401, "refresh_token_reused");
    s.refresh(&t1)
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_yield_one_successor() {
    let s = Server::start(&[]).await;
    let t0 = s.signed_in("eve@example.com").await.str("refresh_token");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let request = s
                .request(Method::POST, "/auth/refresh")
                .json(&json!({ "refresh_token": t0 }));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<serde_json::Value>().await.unwrap())
            })
        })
        .collect();
    let mut successors = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "more than one live branch");
    let t2 = s.refresh(&successors[0]).await;
    assert_eq!(t2.status, 200);
    let list = s
        .get_bearer("/auth/sessions", &t2.str("access_token"))
        .await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sliding_and_absolute_lifetimes() {
    let s = Server::start(&[("REFRESH_TTL", "1h"), ("SESSION_LIFETIME", "3h")]).await;
    s.register("fay@example.com").await;
    let mut token = s.login("fay@example.com").await.str("refresh_token");
    // Used every 50 minutes, the session slides...
    for _ in 0..3 {
        s.clock.advance(50 * 60);
        let r = s.refresh(&token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        token = r.str("refresh_token");
    }
    // ...until its absolute end (3 h after sign-in): the cookie shortens too.
    s.clock.advance(20 * 60);
    let last = s.browser_refresh(&token).await;
    assert!(last.cookie("edgeauth_refresh").contains("Max-Age=600;"));
    token = last.str("refresh_token");
    s.clock.advance(10 * 60);
    s.refresh(&token)
        .await
        .assert_problem(401, "invalid_refresh_token");

    // Idle longer than the sliding TTL: gone.
    let idle = s.login("fay@example.com").await.str("refresh_token");
    s.clock.advance(60 * 60);
    s.refresh(&idle)
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn the_least_recently_used_session_is_evicted() {
    let s = Server::start(&[("MAX_SESSIONS", "2")]).await;
    let a = s.signed_in("gus@example.com").await;
    s.clock.advance(10);
    let b = s.login("gus@example.com").await;
    s.clock.advance(10);
    // Using `a` makes `b` the least recently used.
    let a2 = s.refresh(&a.str("refresh_token")).await;
    s.clock.advance(10);
    let c = s.login("gus@example.com").await;
    s.refresh(&b.str("refresh_token"))
        .await
        .assert_problem(401, "invalid_refresh_token");
    s.get_bearer("/auth/me", &b.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    let list = s.get_bearer("/auth/sessions", &c.str("access_token")).await;
    let ids: Vec<&str> = list.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [c.str("session_id"), a2.str("session_id")]);
}

#[tokio::test]
async fn token_endpoint_refresh_grant_speaks_oauth() {
    let s = Server::start(&[]).await;
    let t0 = s.signed_in("hal@example.com").await.str("refresh_token");
    let ok = s
        .send(s.request(Method::POST, "/auth/token").form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t0.as_str()),
        ]))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    s.clock.advance(60);
    let reused = s
        .send(s.request(Method::POST, "/auth/token").form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t0.as_str()),
        ]))
        .await;
    reused.assert_problem(400, "refresh_token_reused");
    assert_eq!(reused.body["error"], "invalid_grant");
    let bad = s
        .send(
            s.request(Method::POST, "/auth/token")
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")]),
        )
        .await;
    bad.assert_problem(400, "invalid_refresh_token");
    assert_eq!(bad.body["error"], "invalid_grant");
    // JSON login on the same endpoint still works.
    let json_login = s
        .post_json(
            "/auth/token",
            json!({"email": "hal@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(json_login.status, 200);
}

/// The claims of an access token, checked against the server's JWKS.
async fn claims_of(s: &Server, token: &str) -> serde_json::Value {
    use edgeauth_server::Clock as _;
    let jwks = s.jwks().await.body;
    verify_independently(&jwks, token, s.clock.now())
}

#[tokio::test]
async fn refreshed_tokens_carry_the_sessions_amr_and_tid() {
    use base64::Engine as _;
    use edgeauth_server::{Clock as _, NewSession};
    use sha2::Digest as _;

    let s = Server::start(&[]).await;
    // A password sign-in: amr ["pwd"], no tid, kept across refreshes.
    let login = s.signed_in("amr@example.com").await;
    let claims = claims_of(&s, &login.str("access_token")).await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims.get("tid").is_none(), "{claims}");
    let refreshed = s.refresh(&login.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let claims = claims_of(&s, &refreshed.str("access_token")).await;
    assert_eq!(claims["amr"], json!(["pwd"]));

    // A session opened another way (as a future one-time-code or OAuth
    // sign-in would): its refreshed tokens claim what the session says.
    let me = s.get_bearer("/auth/me", &login.str("access_token")).await;
    let user_id = me.str("id");
    let raw = [7u8; 32];
    let now = s.clock.now();
    s.store
        .shared()
        .create_session(
            &NewSession {
                id: "6f9619ff-8b86-d011-b42d-00c04fc964ff".into(),
                user_id,
                created_at: now,
                expires_at: now + 3600,
                absolute_expires_at: now + 86_400,
                user_agent: None,
                amr: vec!["otp".into(), "mfa".into()],
                tid: Some("tenant-1".into()),
                token_hash: sha2::Sha256::digest(raw).into(),
                audit: None,
            },
            10,
        )
        .await
        .unwrap();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let refreshed = s.refresh(&token).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let claims = claims_of(&s, &refreshed.str("access_token")).await;
    assert_eq!(claims["amr"], json!(["otp", "mfa"]));
    assert_eq!(claims["tid"], "tenant-1");
    assert_eq!(claims["sid"], "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    // And again after a second rotation.
    s.clock.advance(60);
    let again = s.refresh(&refreshed.str("refresh_token")).await;
    let claims = claims_of(&s, &again.str("access_token")).await;
    assert_eq!(claims["amr"], json!(["otp", "mfa"]));
    assert_eq!(claims["tid"], "tenant-1");
}

#[tokio::test]
async fn of_sessions_opened_in_one_second_the_first_opened_goes_first() {
    let s = Server::start(&[("MAX_SESSIONS", "2")]).await;
    s.register("same@example.com").await;
    // Every sign-in at the same second of the manual clock.
    let first = s.login("same@example.com").await;
    let second = s.login("same@example.com").await;
    let third = s.login("same@example.com").await;
    for (gone, token) in [(true, &first), (false, &second), (false, &third)] {
        let me = s.get_bearer("/auth/me", &token.str("access_token")).await;
        if gone {
            me.assert_problem(401, "revoked");
        } else {
            assert_eq!(me.status, 200, "{}", me.body);
        }
    }
}
