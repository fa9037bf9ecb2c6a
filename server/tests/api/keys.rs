//! Key rotation and the role hierarchy in tokens.

use edgeauth_server::RoleDef;
use serde_json::json;

use crate::support::{Server, T0, verify_independently};

#[tokio::test]
async fn a_new_key_is_published_ahead_then_signs_then_the_old_one_leaves() {
    let s = Server::start(&[("KEY_RELOAD", "30"), ("KEY_PUBLISH_AHEAD", "600")]).await;
    s.register("ann@example.com").await;
    let before = s.login("ann@example.com").await.str("access_token");
    let jwks = s.jwks().await.body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    // `next`: published at once, not signing yet.
    s.clock.advance(60);
    let new_kid = s.state.rotate_keys().await.unwrap().unwrap();
    assert_ne!(new_kid, old_kid);
    let states = |list: Vec<edgeauth_server::KeyInfo>| -> Vec<(String, &'static str)> {
        list.into_iter()
            .map(|k| (k.kid, k.state.as_str()))
            .collect()
    };
    assert_eq!(
        states(s.state.key_list().await.unwrap()),
        [(new_kid.clone(), "next"), (old_kid.clone(), "current")]
    );
    assert_eq!(
        crate::support::kids(&s.jwks().await.body),
        [new_kid.as_str(), old_kid.as_str()]
    );
    let during = s.login("ann@example.com").await.str("access_token");
    assert_eq!(kid_of(&during), old_kid);
    // A second rotation while one waits does nothing.
    assert_eq!(s.state.rotate_keys().await.unwrap(), None);

    // `current` after KEY_PUBLISH_AHEAD, to the second, with no reload.
    s.clock.advance(599);
    assert_eq!(
        kid_of(&s.login("ann@example.com").await.str("access_token")),
        old_kid
    );
    s.clock.advance(1);
    let after = s.login("ann@example.com").await.str("access_token");
    assert_eq!(kid_of(&after), new_kid);
    assert_eq!(
        states(s.state.key_list().await.unwrap()),
        [(new_kid.clone(), "current"), (old_kid.clone(), "retired")]
    );
    let jwks = s.jwks().await.body;
    for token in [&before, &during, &after] {
        assert_eq!(s.get_bearer("/auth/me", token).await.status, 200);
        verify_independently(&jwks, token, T0 + 660);
    }

    // The retired key is published for access TTL + leeway + reload
    // interval after it stopped signing, then gone.
    s.clock.advance(900 + 30 + 30 - 1);
    assert_eq!(s.jwks().await.body["keys"].as_array().unwrap().len(), 2);
    s.clock.advance(1);
    let jwks = s.jwks().await.body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], json!(new_kid));
    assert_eq!(
        states(s.state.key_list().await.unwrap()),
        [(new_kid, "current"), (old_kid, "gone")]
    );
}

#[tokio::test]
async fn rotate_now_replaces_a_compromised_key_at_once() {
    let s = Server::start(&[]).await;
    let login = s.signed_in("eve@example.com").await;
    let stolen = login.str("access_token");
    let old_kid = kid_of(&stolen);
    s.clock.advance(5);
    let new_kid = s.state.rotate_keys_now().await.unwrap();
    let jwks = s.jwks().await.body;
    assert_eq!(crate::support::kids(&jwks), [new_kid.as_str()]);
    s.get_bearer("/auth/me", &stolen)
        .await
        .assert_problem(401, "unknown_key");
    let fresh = s.login("eve@example.com").await.str("access_token");
    assert_eq!(kid_of(&fresh), new_kid);
    assert_ne!(new_kid, old_kid);
}

#[tokio::test]
async fn scheduled_rotation_publishes_ahead_once_the_interval_passed() {
    let s = Server::start(&[("KEY_PUBLISH_AHEAD", "60"), ("KEY_ROTATION_INTERVAL", "1h")]).await;
    assert_eq!(s.state.rotate_keys_if_due().await.unwrap(), None);
    s.clock.advance(3599);
    assert_eq!(s.state.rotate_keys_if_due().await.unwrap(), None);
    s.clock.advance(1);
    let kid = s.state.rotate_keys_if_due().await.unwrap().unwrap();
    assert_eq!(
        s.state.rotate_keys_if_due().await.unwrap(),
        None,
        "one waits"
    );
    s.clock.advance(60);
    s.register("sam@example.com").await;
    let token = s.login("sam@example.com").await.str("access_token");
    assert_eq!(kid_of(&token), kid);
    assert_eq!(s.state.rotate_keys_if_due().await.unwrap(), None);
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn role_hierarchy_is_expanded_into_tokens() {
    let s = Server::start(&[]).await;
    let user = s.register("bea@example.com").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = s.state.store();
    let def = |name: &str, inherits: &[&str], perms: &[&str]| RoleDef {
        name: name.into(),
        inherits: inherits.iter().map(|s| (*s).into()).collect(),
        perms: perms.iter().map(|s| (*s).into()).collect(),
    };
    store
        .define_role(&def("viewer", &[], &["articles.read"]), T0)
        .await
        .unwrap();
    store
        .define_role(
            &def("editor", &["viewer"], &["articles.write", "media.*"]),
            T0,
        )
        .await
        .unwrap();
    assert!(store.grant_role(&user, "editor").await.unwrap());
    assert!(store.grant_role(&user, "beta").await.unwrap());
    assert!(!store.grant_role(&user, "beta").await.unwrap());
    let login = s.login("bea@example.com").await;
    let claims = verify_independently(&s.jwks().await.body, &login.str("access_token"), T0);
    assert_eq!(claims["roles"], json!(["beta", "editor", "viewer"]));
    assert_eq!(
        claims["perms"],
        json!(["articles.read", "articles.write", "media.*"])
    );
    let me = s.get_bearer("/auth/me", &login.str("access_token")).await;
    assert_eq!(me.body["roles"], claims["roles"]);
    assert_eq!(me.body["perms"], claims["perms"]);

    // A revoked role disappears at the next refresh.
    assert!(store.revoke_role(&user, "editor").await.unwrap());
    let refreshed = s.refresh(&login.str("refresh_token")).await;
    let claims = verify_independently(&s.jwks().await.body, &refreshed.str("access_token"), T0);
    assert_eq!(claims["roles"], json!(["beta"]));
    assert_eq!(claims["perms"], json!([]));
}

#[tokio::test]
async fn a_different_master_key_is_refused_naming_the_setting() {
    let dir = crate::support::TempDir::new();
    let clock = std::sync::Arc::new(edgeauth_server::ManualClock::new(T0));
    drop(crate::support::state(&dir, &[], clock.clone()).await);
    let config = edgeauth_server::Config::from_sources(
        crate::support::settings(
            &dir,
            &[(
                "MASTER_KEY",
                "9a1c3e5f7b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
            )],
        ),
        None,
    )
    .unwrap();
    let store = crate::support::open(&config).await.shared();
    let master = config.resolve_master_key().unwrap();
    let err = edgeauth_server::AppState::new(config, store, clock, master)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EDGEAUTH_MASTER_KEY"), "{err}");
}
