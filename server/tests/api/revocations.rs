//! The revocation feed: what it lists, how it is signed and cached.

use edgeauth_core::{KeySet, Revocations};
use reqwest::Method;
use serde_json::json;

use crate::support::{ISSUER, Server};

/// The feed as served, its headers, and what the core makes of it.
async fn feed(s: &Server) -> (reqwest::header::HeaderMap, Revocations) {
    let response = s
        .client
        .get(format!("{}/.well-known/revocations", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    let jwks = s.jwks().await.body.to_string();
    let keys = KeySet::from_jwks(&jwks).unwrap();
    let now = s.state.now();
    (
        headers,
        Revocations::verify(&body, &keys, ISSUER, now).unwrap(),
    )
}

#[tokio::test]
async fn the_feed_lists_every_kind_of_revocation_and_is_cached_for_its_max_age() {
    let s = Server::start(&[("MAX_SESSIONS", "2"), ("REFRESH_REUSE_GRACE", "0")]).await;
    let (headers, empty) = feed(&s).await;
    assert!(empty.is_empty());
    assert_eq!(headers["content-type"], "application/revocations+jwt");
    assert_eq!(headers["cache-control"], "public, max-age=5");
    assert_eq!(
        (empty.issued_at(), empty.expires_at()),
        (s.state.now(), s.state.now() + 300)
    );

    // Logout, DELETE of a session, a refresh-token reuse, an eviction.
    let logged_out = s.signed_in("rev@example.com").await;
    let deleted = s.login("rev@example.com").await;
    let out = s
        .send(
            s.request(Method::POST, "/auth/logout")
                .bearer_auth(logged_out.str("access_token")),
        )
        .await;
    assert_eq!(out.status, 204);
    let gone = s
        .send(
            s.request(
                Method::DELETE,
                &format!("/auth/sessions/{}", deleted.str("session_id")),
            )
            .bearer_auth(deleted.str("access_token")),
        )
        .await;
    assert_eq!(gone.status, 204);
    let reused = s.login("rev@example.com").await;
    let first = reused.str("refresh_token");
    assert_eq!(s.refresh(&first).await.status, 200);
    s.refresh(&first)
        .await
        .assert_problem(401, "refresh_token_reused");
    // The least recently used goes: one second apart, so the order is sure.
    s.clock.advance(1);
    let evicted = s.login("rev@example.com").await;
    for _ in 0..2 {
        s.clock.advance(1);
        s.login("rev@example.com").await;
    }
    s.clock.advance(1);
    let live = s.login("rev@example.com").await;

    // Within its max-age the instance serves the feed it built (at T0).
    let (_, cached) = feed(&s).await;
    assert!(cached.is_empty());
    s.clock.advance(1);
    let (headers, listed) = feed(&s).await;
    for revoked in [&logged_out, &deleted, &reused, &evicted] {
        assert!(
            listed.contains(&revoked.str("session_id")),
            "{}",
            revoked.body
        );
    }
    assert!(!listed.contains(&live.str("session_id")));

    // ETag: the same feed answers 304.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let conditional = || {
        s.client
            .get(format!("{}/.well-known/revocations", s.base))
            .header("if-none-match", &etag)
            .send()
    };
    let again = conditional().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    s.clock.advance(2);
    let later = conditional().await.unwrap();
    assert_eq!(later.status(), 304);
    assert_eq!(later.headers()["cache-control"], "public, max-age=3");

    // Revocations older than the access TTL + 60 s leave the list: no
    // token of theirs can still be unexpired.
    s.clock.advance(900 + 60 - 7);
    let (_, still) = feed(&s).await;
    assert!(still.contains(&logged_out.str("session_id")));
    s.clock.advance(5);
    let (_, aged) = feed(&s).await;
    assert!(aged.is_empty(), "{:?}", aged.sids());
}

#[tokio::test]
async fn the_feed_is_signed_with_the_key_that_signs_tokens() {
    let s = Server::start(&[("KEY_PUBLISH_AHEAD", "600")]).await;
    let body = |s: &Server| {
        let url = format!("{}/.well-known/revocations", s.base);
        let client = s.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let kid = |jws: &str| {
        use base64::Engine as _;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"].clone()
    };
    let before = kid(&body(&s).await);
    let next = s.state.rotate_keys().await.unwrap().unwrap();
    s.clock.advance(600);
    let after = kid(&body(&s).await);
    assert_ne!(before, after);
    assert_eq!(after, json!(next));
}

#[tokio::test]
async fn a_deleted_users_sessions_stay_in_the_feed() {
    let s = Server::start(&[]).await;
    let store = s.store.shared();
    let ops = s.register("ops@example.com").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let def = edgeauth_server::RoleDef {
        name: "ops".into(),
        inherits: vec![],
        perms: vec!["admin.users.write".into()],
    };
    store.define_role(&def, crate::support::T0).await.unwrap();
    store.grant_role(&ops, "ops").await.unwrap();
    let admin = s.login("ops@example.com").await.str("access_token");
    let gone = s.signed_in("gone@example.com").await;
    let id = s
        .get_bearer("/auth/me", &gone.str("access_token"))
        .await
        .str("id");
    let deleted = s
        .send(
            s.request(Method::DELETE, &format!("/admin/v1/users/{id}"))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    s.clock.advance(5);
    let (_, listed) = feed(&s).await;
    assert!(
        listed.contains(&gone.str("session_id")),
        "{:?}",
        listed.sids()
    );
    // The tombstone goes with the purge of ended sessions, once as old.
    let sid = gone.str("session_id");
    s.state.purge_ended_sessions().await.unwrap();
    assert_eq!(
        store.revoked_since(0).await.unwrap(),
        std::slice::from_ref(&sid)
    );
    s.clock.advance(7 * 86_400);
    s.state.purge_ended_sessions().await.unwrap();
    assert!(!store.revoked_since(0).await.unwrap().contains(&sid));
}
