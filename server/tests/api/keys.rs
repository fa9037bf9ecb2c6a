//! Key rotation and the role hierarchy in tokens.

use edgeauth_server::RoleDef;
use serde_json::json;

use crate::support::{Server, T0, verify_independently};

#[tokio::test]
async fn rotation_keeps_the_old_key_published_until_its_tokens_expire() {
    let s = Server::start(&[("KEY_RELOAD", "30")]).await;
    s.register("ann@example.com").await;
    let before = s.login("ann@example.com").await.str("access_token");
    let jwks = s.jwks().await.body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    s.clock.advance(60);
    let new_kid = s.state.rotate_keys().await.unwrap();
    assert_ne!(new_kid, old_kid);
    let after = s.login("ann@example.com").await.str("access_token");
    let jwks = s.jwks().await.body;
    let kids = crate::support::kids(&jwks);
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
    // Both tokens verify, at the server and independently.
    assert_eq!(s.get_bearer("/auth/me", &before).await.status, 200);
    assert_eq!(s.get_bearer("/auth/me", &after).await.status, 200);
    verify_independently(&jwks, &before, T0 + 60);
    let claims = verify_independently(&jwks, &after, T0 + 60);
    assert_eq!(claims["iat"], T0 + 60);

    // Published for access TTL + leeway + reload interval after retirement.
    s.clock.advance(900 + 30 + 30 - 1);
    assert_eq!(s.jwks().await.body["keys"].as_array().unwrap().len(), 2);
    s.clock.advance(1);
    let jwks = s.jwks().await.body;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], json!(new_kid));
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
