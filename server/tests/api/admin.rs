//! The admin API (`/admin/v1/...`), the audit log and `/openapi.json`:
//! every route's guard, pagination under inserts, disabling, imported
//! password hashes, one event per action with its actor and never a
//! secret, and the document against the router.

use std::{collections::HashSet, sync::Arc};

use edgeauth_server::{AuditQuery, Clock as _, ManualClock, RoleDef, app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ORIGIN, PASSWORD, Resp, Server, T0, state};

/// Every admin route: method, path (ids filled in), permission.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/admin/v1/users", "admin.users.read"),
    ("POST", "/admin/v1/users", "admin.users.write"),
    ("GET", "/admin/v1/users/ID", "admin.users.read"),
    ("PATCH", "/admin/v1/users/ID", "admin.users.write"),
    ("DELETE", "/admin/v1/users/ID", "admin.users.write"),
    ("GET", "/admin/v1/users/ID/sessions", "admin.sessions.read"),
    (
        "DELETE",
        "/admin/v1/users/ID/sessions",
        "admin.sessions.write",
    ),
    ("PUT", "/admin/v1/users/ID/roles", "admin.roles.write"),
    ("GET", "/admin/v1/roles", "admin.roles.read"),
    ("PUT", "/admin/v1/roles/NAME", "admin.roles.write"),
    ("DELETE", "/admin/v1/roles/NAME", "admin.roles.write"),
    ("GET", "/admin/v1/keys", "admin.keys.read"),
    ("POST", "/admin/v1/keys/rotate", "admin.keys.write"),
    ("GET", "/admin/v1/audit", "admin.audit.read"),
];

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap()
}

/// Registers `email` and grants it a role granting `perms` (none: a plain
/// user); returns its id and access token.
async fn user_with(s: &Server, email: &str, perms: &[&str]) -> (String, String) {
    let id = s.register(email).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    if !perms.is_empty() {
        let store = s.store.shared();
        let role = format!("role-{}", email.replace('@', "-"));
        let def = RoleDef {
            name: role.clone(),
            inherits: vec![],
            perms: perms.iter().map(|p| (*p).to_owned()).collect(),
        };
        store.define_role(&def, T0).await.unwrap();
        store.grant_role(&id, &role).await.unwrap();
    }
    let token = s.login(email).await.str("access_token");
    (id, token)
}

async fn call(s: &Server, verb: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
    let mut request = s.request(method(verb), path);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if matches!(verb, "POST" | "PUT" | "PATCH") {
        request = request.json(&body);
    }
    s.send(request).await
}

/// The app over the same database with other settings, on a port of its
/// own (a token issued for another audience).
async fn sibling(s: &Server, extra: &[(&str, &str)]) -> String {
    let clock = Arc::new(ManualClock::new(s.clock.now()));
    let state = state(&s._dir, extra, clock).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state);
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn every_route_is_guarded_by_its_permission() {
    let s = Server::start(&[("REGISTER_RATE", "off"), ("TOKEN_RATE", "off")]).await;
    let (_, plain) = user_with(&s, "plain@example.com", &[]).await;
    let (_, all) = user_with(&s, "ops@example.com", &["admin.*"]).await;
    let other = sibling(&s, &[("AUDIENCE", "another-api")]).await;
    let foreign = s
        .send(
            s.client
                .post(format!("{other}/auth/token"))
                .json(&json!({"email": "ops@example.com", "password": PASSWORD})),
        )
        .await
        .str("access_token");
    let cookie = s
        .browser_login("ops@example.com")
        .await
        .cookie("edgeauth_session");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    for (i, (verb, path, perm)) in ROUTES.iter().enumerate() {
        let path = path
            .replace("ID", "no-such-user")
            .replace("NAME", "no-such-role");
        call(&s, verb, &path, None, json!({}))
            .await
            .assert_problem(401, "missing_token");
        call(&s, verb, &path, Some(&plain), json!({}))
            .await
            .assert_problem(403, "insufficient_permission");
        call(&s, verb, &path, Some(&foreign), json!({}))
            .await
            .assert_problem(401, "wrong_audience");
        // Every admin permission but this route's.
        let others: Vec<&str> = ROUTES.iter().map(|r| r.2).filter(|p| p != perm).collect();
        let (_, narrow) = user_with(&s, &format!("narrow{i}@example.com"), &others).await;
        call(&s, verb, &path, Some(&narrow), json!({}))
            .await
            .assert_problem(403, "insufficient_permission");
        // The exact permission and the wildcard pass the guard.
        let (_, exact) = user_with(&s, &format!("exact{i}@example.com"), &[perm]).await;
        for token in [&exact, &all] {
            let r = call(&s, verb, &path, Some(token), json!({})).await;
            assert!(
                ![401, 403].contains(&r.status),
                "{verb} {path}: {} {}",
                r.status,
                r.body
            );
        }
        // A cookie passes the guard on safe methods, and on unsafe ones
        // only with an allowed Origin.
        let by_cookie = s
            .send(
                s.request(method(verb), &path)
                    .header("cookie", &cookie)
                    .json(&json!({})),
            )
            .await;
        if *verb == "GET" {
            assert!(
                ![401, 403].contains(&by_cookie.status),
                "{}",
                by_cookie.body
            );
        } else {
            by_cookie.assert_problem(403, "csrf_rejected");
            let with_origin = s
                .send(
                    s.request(method(verb), &path)
                        .header("cookie", &cookie)
                        .header("origin", ORIGIN)
                        .json(&json!({})),
                )
                .await;
            assert!(
                ![401, 403].contains(&with_origin.status),
                "{}",
                with_origin.body
            );
        }
    }
}

#[tokio::test]
async fn users_are_created_listed_changed_and_deleted() {
    let s = Server::start(&[]).await;
    let (admin_id, token) = user_with(&s, "root@example.com", &["admin.*"]).await;
    let t = Some(token.as_str());
    let r = call(
        &s,
        "POST",
        "/admin/v1/users",
        t,
        json!({"email": "New@Example.com", "name": "New", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let user = &r.body["user"];
    assert_eq!(user["email"], "new@example.com");
    assert_eq!(user["disabled"], false);
    assert_eq!(user["email_verified"], false);
    let id = user["id"].as_str().unwrap().to_owned();
    call(
        &s,
        "POST",
        "/admin/v1/users",
        t,
        json!({"email": "new@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(409, "email_taken");
    call(
        &s,
        "POST",
        "/admin/v1/users",
        t,
        json!({"email": "w@example.com", "password": "short"}),
    )
    .await
    .assert_problem(422, "weak_password");
    for both_or_none in [
        json!({"email": "b@example.com"}),
        json!({"email": "b@example.com", "password": PASSWORD, "password_hash": "$2b$04$x"}),
    ] {
        call(&s, "POST", "/admin/v1/users", t, both_or_none)
            .await
            .assert_problem(422, "invalid_body");
    }
    call(
        &s,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        t,
        json!({"nickname": "x"}),
    )
    .await
    .assert_problem(422, "invalid_body");
    call(&s, "GET", "/admin/v1/users/nope", t, json!({}))
        .await
        .assert_problem(404, "user_not_found");

    // Roles: define, grant, refuse to delete while granted or inherited.
    let r = call(
        &s,
        "PUT",
        "/admin/v1/roles/editor",
        t,
        json!({"permissions": ["articles.*"], "inherits": []}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"name": "editor", "permissions": ["articles.*"], "inherits": []})
    );
    let r = call(
        &s,
        "PUT",
        &format!("/admin/v1/users/{id}/roles"),
        t,
        json!({"roles": ["editor"]}),
    )
    .await;
    assert_eq!(r.body["user"]["roles"], json!(["editor"]));
    assert_eq!(r.body["user"]["perms"], json!(["articles.*"]));
    call(&s, "DELETE", "/admin/v1/roles/editor", t, json!({}))
        .await
        .assert_problem(409, "role_in_use");
    call(&s, "DELETE", "/admin/v1/roles/ghost", t, json!({}))
        .await
        .assert_problem(404, "role_not_found");
    let r = call(&s, "GET", "/admin/v1/roles", t, json!({})).await;
    assert!(
        r.body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "editor")
    );

    // Email filter, rename, sessions, delete.
    let r = call(
        &s,
        "GET",
        "/admin/v1/users?email=NEW@example.com",
        t,
        json!({}),
    )
    .await;
    assert_eq!(r.body["users"][0]["id"], id.as_str());
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = call(
        &s,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        t,
        json!({"name": null}),
    )
    .await;
    assert_eq!(r.body["user"]["name"], Value::Null);
    s.login("new@example.com").await;
    let r = call(
        &s,
        "GET",
        &format!("/admin/v1/users/{id}/sessions"),
        t,
        json!({}),
    )
    .await;
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 1);
    let r = call(
        &s,
        "DELETE",
        &format!("/admin/v1/users/{id}/sessions"),
        t,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(
        &s,
        "GET",
        &format!("/admin/v1/users/{id}/sessions"),
        t,
        json!({}),
    )
    .await;
    assert_eq!(r.body["sessions"], json!([]));
    assert_eq!(
        call(&s, "DELETE", &format!("/admin/v1/users/{id}"), t, json!({}))
            .await
            .status,
        204
    );
    call(&s, "GET", &format!("/admin/v1/users/{id}"), t, json!({}))
        .await
        .assert_problem(404, "user_not_found");
    call(&s, "DELETE", "/admin/v1/roles/editor", t, json!({})).await;

    // Keys.
    let r = call(&s, "POST", "/admin/v1/keys/rotate", t, json!({})).await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (201, Some("next")),
        "{}",
        r.body
    );
    let r = call(&s, "GET", "/admin/v1/keys", t, json!({})).await;
    let mut states: Vec<&str> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["current", "next"]);

    // Each action above left exactly one event, acted by the caller.
    let events = audit(&s, &token, "").await;
    let mine: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["actor"] == admin_id.as_str())
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["target"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let target = id.as_str();
    assert_eq!(
        mine,
        [
            ("user.registered", admin_id.as_str()),
            ("login.succeeded", admin_id.as_str()),
            ("user.created", target),
            ("role.defined", "editor"),
            ("roles.changed", target),
            ("user.updated", target),
            ("session.revoked", target),
            ("user.deleted", target),
            ("role.deleted", "editor"),
            ("key.rotated", mine_kid(&events).as_str()),
        ]
    );
    let created = events.iter().find(|e| e["type"] == "user.created").unwrap();
    assert_eq!(created["ip"], "127.0.0.1");
    assert!(
        created["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert!(created["at"].as_str().unwrap().ends_with('Z'));
}

fn mine_kid(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["type"] == "key.rotated")
        .and_then(|e| e["target"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Every event (`query` added to the path), following the cursor.
async fn audit(s: &Server, token: &str, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/admin/v1/audit?limit=100{query}{cursor}");
        let r = s.get_bearer(&path, token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body["events"].as_array().unwrap().clone();
        if page.is_empty() {
            return events;
        }
        events.extend(page);
        cursor = format!("&cursor={}", r.str("next_cursor"));
    }
}

/// A user row with this id, created at `at`.
fn bare_user(id: String, at: u64) -> edgeauth_server::User {
    edgeauth_server::User {
        email: format!("{id}@example.com"),
        id,
        name: None,
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        created_at: at,
        disabled_at: None,
        email_verified_at: None,
    }
}

#[tokio::test]
async fn pages_stay_stable_while_users_are_added() {
    let s = Server::start(&[]).await;
    let (_, token) = user_with(
        &s,
        "lister@example.com",
        &["admin.users.read", "admin.users.write"],
    )
    .await;
    let store = s.store.shared();
    for i in 0..30 {
        s.clock.advance(1);
        let user = bare_user(format!("{i:02}-before"), s.clock.now());
        store.create_user(&user).await.unwrap();
    }
    let expected: HashSet<String> = (0..30).map(|i| format!("{i:02}-before")).collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        // Inserts race the reading, at the current time (after every
        // listed user) and at the time of the users already listed.
        let writers: Vec<_> = (0..3)
            .map(|k| {
                let store = store.clone();
                let at = if k == 0 { T0 + 1 } else { s.clock.now() + 10 };
                let n = round * 3 + k;
                tokio::spawn(async move {
                    let user = bare_user(format!("zz-during-{n}"), at);
                    store.create_user(&user).await.unwrap();
                })
            })
            .collect();
        let path = match &cursor {
            Some(c) => format!("/admin/v1/users?limit=7&cursor={c}"),
            None => "/admin/v1/users?limit=7".to_owned(),
        };
        let r = s.get_bearer(&path, &token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for w in writers {
            w.await.unwrap();
        }
        for u in r.body["users"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
        round += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(round < 40, "the listing never ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a user was listed twice");
    for id in &expected {
        assert!(seen.contains(id), "{id} was skipped");
    }

    // Bad pages.
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=abc",
        "cursor=MTox.AAAAAAAAAAAAAAAAAAAAAA",
        "color=red",
    ] {
        s.get_bearer(&format!("/admin/v1/users?{bad}"), &token)
            .await
            .assert_problem(400, "invalid_request");
    }
    // A cursor of the audit log is not one of the user list.
    let (_, auditor) = user_with(&s, "auditor@example.com", &["admin.audit.read"]).await;
    let r = s.get_bearer("/admin/v1/audit?limit=1", &auditor).await;
    let audit_cursor = r.str("next_cursor");
    s.get_bearer(&format!("/admin/v1/users?cursor={audit_cursor}"), &token)
        .await
        .assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn a_disabled_user_signs_in_like_a_wrong_password_until_enabled() {
    let s = Server::start(&[("TOKEN_RATE", "off")]).await;
    let (_, admin) = user_with(&s, "boss@example.com", &["admin.users.write"]).await;
    let (id, token) = user_with(&s, "worker@example.com", &[]).await;
    let r = call(
        &s,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        Some(&admin),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.body["user"]["disabled"], true, "{}", r.body);
    // Every session went: the access token stops at once.
    s.get_bearer("/auth/me", &token)
        .await
        .assert_problem(401, "revoked");
    let disabled = s
        .post_json(
            "/auth/token",
            json!({"email": "worker@example.com", "password": PASSWORD}),
        )
        .await;
    let wrong = s
        .post_json(
            "/auth/token",
            json!({"email": "worker@example.com", "password": "wrong password!"}),
        )
        .await;
    disabled.assert_problem(401, "invalid_credentials");
    assert_eq!(disabled.body["detail"], wrong.body["detail"]);
    assert_eq!(disabled.body["error"], wrong.body["error"]);
    let r = call(
        &s,
        "PATCH",
        &format!("/admin/v1/users/{id}"),
        Some(&admin),
        json!({"disabled": false}),
    )
    .await;
    assert_eq!(r.body["user"]["disabled"], false);
    s.login("worker@example.com").await;
    // The events, with who did what.
    let events = s
        .store
        .shared()
        .audit_events(&AuditQuery {
            user: Some(id.clone()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.event.kind.as_str(), e.event.actor.as_str()))
        .collect();
    let admin_id = &events
        .iter()
        .find(|e| e.event.kind == "user.disabled")
        .unwrap()
        .event
        .actor;
    assert_eq!(
        kinds,
        [
            ("user.registered", id.as_str()),
            ("login.succeeded", id.as_str()),
            ("user.disabled", admin_id.as_str()),
            ("login.failed", id.as_str()),
            ("login.failed", id.as_str()),
            ("user.enabled", admin_id.as_str()),
            ("login.succeeded", id.as_str()),
        ]
    );
}

/// Hashes of `PASSWORD` in every accepted foreign form, made with the
/// RustCrypto crates.
fn foreign_hashes() -> Vec<(&'static str, String)> {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD as B64};
    let salt = *b"0123456789abcdef";
    let argon = |algorithm| {
        Argon2::new(
            algorithm,
            Version::V0x13,
            Params::new(32, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string()
    };
    let mut scrypt_out = [0u8; 32];
    let params = scrypt::Params::new(4, 8, 1, 32).unwrap();
    scrypt::scrypt(PASSWORD.as_bytes(), &salt, &params, &mut scrypt_out).unwrap();
    let mut pbkdf2_out = [0u8; 32];
    pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(PASSWORD.as_bytes(), &salt, 1000, &mut pbkdf2_out)
        .unwrap();
    let bcrypt = bcrypt::hash_with_salt(PASSWORD, 4, salt).unwrap();
    vec![
        ("argon2id", argon(Algorithm::Argon2id)),
        ("argon2i", argon(Algorithm::Argon2i)),
        (
            "bcrypt-2b",
            bcrypt.format_for_version(bcrypt::Version::TwoB),
        ),
        (
            "bcrypt-2a",
            bcrypt.format_for_version(bcrypt::Version::TwoA),
        ),
        (
            "bcrypt-2y",
            bcrypt.format_for_version(bcrypt::Version::TwoY),
        ),
        (
            "scrypt",
            format!(
                "$scrypt$ln=4,r=8,p=1${}${}",
                B64.encode(salt),
                B64.encode(scrypt_out)
            ),
        ),
        (
            "pbkdf2-sha256",
            format!(
                "$pbkdf2-sha256$i=1000,l=32${}${}",
                B64.encode(salt),
                B64.encode(pbkdf2_out)
            ),
        ),
    ]
}

#[tokio::test]
async fn imported_hashes_sign_in_and_are_rehashed() {
    let s = Server::start(&[("TOKEN_RATE", "off")]).await;
    let (_, admin) = user_with(&s, "importer@example.com", &["admin.users.*"]).await;
    let store = s.store.shared();
    let hashes = foreign_hashes();
    for (name, hash) in &hashes {
        let email = format!("{name}@example.com");
        let r = call(
            &s,
            "POST",
            "/admin/v1/users",
            Some(&admin),
            json!({"email": email, "password_hash": hash}),
        )
        .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        // A wrong password fails and keeps the hash.
        s.post_json(
            "/auth/token",
            json!({"email": email, "password": "not the password"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
        assert_eq!(
            &store
                .user_by_email(&email)
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            hash
        );
        s.login(&email).await;
        let rehashed = store
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert!(
            rehashed.starts_with("$argon2id$v=19$m=64,t=1,"),
            "{name}: {rehashed}"
        );
        s.login(&email).await;
    }
    // Malformed: refused, nothing created.
    for bad in [
        "$2b$04$tooshort",
        "$md5$x$y",
        "$pbkdf2-sha256$i=1000,l=32$c2FsdA",
        "plain",
    ] {
        call(
            &s,
            "POST",
            "/admin/v1/users",
            Some(&admin),
            json!({"email": "bad@example.com", "password_hash": bad}),
        )
        .await
        .assert_problem(422, "invalid_password_hash");
        assert!(
            store
                .user_by_email("bad@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }
    // No event holds a password or a hash.
    let events = store
        .audit_events(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let text = format!("{events:?}");
    for (_, hash) in &hashes {
        assert!(!text.contains(hash.as_str()));
        assert!(!text.contains(hash.get(10..30).unwrap()));
    }
    assert!(!text.contains(PASSWORD));
}

#[tokio::test]
async fn no_event_holds_a_secret_and_filters_work() {
    let s = Server::start(&[("TOKEN_RATE", "off")]).await;
    let (id, first) = user_with(&s, "auditor@example.com", &["admin.audit.read"]).await;
    let pair = s.login("auditor@example.com").await;
    let refresh = pair.str("refresh_token");
    let rotated = s.refresh(&refresh).await;
    assert_eq!(rotated.status, 200);
    s.clock.advance(3600);
    // The reused token: the family goes, with refresh.reused.
    s.refresh(&refresh)
        .await
        .assert_problem(401, "refresh_token_reused");
    s.post_json(
        "/auth/token",
        json!({"email": "auditor@example.com", "password": "guess guess guess"}),
    )
    .await;
    s.post_json(
        "/auth/token",
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    )
    .await;
    let token = s.login("auditor@example.com").await.str("access_token");
    let events = audit(&s, &token, "").await;
    let text = serde_json::to_string(&events).unwrap();
    for secret in [
        PASSWORD,
        "guess guess guess",
        &token,
        &first,
        &refresh,
        &rotated.str("refresh_token"),
        &pair.str("access_token"),
    ] {
        assert!(!text.contains(secret), "a secret is in the audit log");
    }
    let stored = s
        .store
        .shared()
        .user_by_id(&id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(!text.contains(&stored));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "user.registered",
            "login.succeeded",
            "login.succeeded",
            "refresh.reused",
            "login.failed",
            "login.failed",
            "login.succeeded"
        ]
    );
    assert_eq!(events[5]["actor"], "anonymous");
    assert_eq!(events[5]["target"], Value::Null);
    let reused = &events[3];
    assert_eq!(
        (reused["actor"].as_str(), reused["target"].as_str()),
        (Some("system"), Some(id.as_str()))
    );
    // Acted by the server, from the request that presented the token.
    assert!(reused["ip"].is_string(), "{reused}");
    assert!(reused["request_id"].is_string(), "{reused}");
    // Filters: type, user, since (inclusive); unknown type refused.
    assert_eq!(audit(&s, &token, "&type=login.failed").await.len(), 2);
    assert_eq!(audit(&s, &token, &format!("&user={id}")).await.len(), 6);
    assert_eq!(
        audit(&s, &token, "&since=2027-01-15T09:00:00Z").await.len(),
        4
    );
    s.get_bearer("/admin/v1/audit?type=user.hacked", &token)
        .await
        .assert_problem(400, "invalid_request");
    s.get_bearer("/admin/v1/audit?since=yesterday", &token)
        .await
        .assert_problem(400, "invalid_request");
    // Retention: past AUDIT_RETENTION (90 days) the events go.
    s.clock.advance(91 * 86_400);
    assert_eq!(s.state.purge_audit().await.unwrap(), 7);
}

#[tokio::test]
async fn a_throttled_login_is_one_event_without_an_account() {
    let s = Server::start(&[("LOGIN_MAX_FAILURES", "2")]).await;
    s.register("locked@example.com").await;
    for _ in 0..2 {
        s.post_json(
            "/auth/token",
            json!({"email": "locked@example.com", "password": "guess guess"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    s.post_json(
        "/auth/token",
        json!({"email": "locked@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(429, "too_many_attempts");
    let events = s
        .store
        .shared()
        .audit_events(&AuditQuery {
            kind: Some("login.throttled".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0].event;
    assert_eq!(
        (event.actor.as_str(), event.target.as_deref()),
        ("anonymous", None)
    );
    assert_eq!(event.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let s = Server::start(&[]).await;
    let r = s.send(s.request(Method::GET, "/openapi.json")).await;
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["securitySchemes"]["cookie"].is_object());
    assert!(doc["components"]["schemas"]["ProblemDoc"].is_object());
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    documented.sort();
    // What the server serves: the contract's table (docs/server-api.md,
    // docs/admin-api.md), each probed below.
    let mut served: Vec<(String, String)> = [
        ("POST", "/auth/register"),
        ("POST", "/auth/token"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/me"),
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions/{id}"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/.well-known/revocations"),
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        // The email flows, and the pages of their mailed links.
        ("POST", "/auth/email/verify/send"),
        ("GET", "/auth/email/verify"),
        ("POST", "/auth/email/verify"),
        ("POST", "/auth/password/forgot"),
        ("GET", "/auth/password/reset"),
        ("POST", "/auth/password/reset"),
        ("POST", "/auth/password/change"),
        ("GET", "/auth/magic-link"),
        ("POST", "/auth/magic-link"),
        ("POST", "/auth/magic-link/verify"),
        ("GET", "/auth/email/change"),
        ("POST", "/auth/email/change"),
        ("POST", "/auth/email/change/confirm"),
        ("DELETE", "/auth/me"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .chain(ROUTES.iter().map(|(m, p, _)| {
        let p = p.replace("ID", "{id}").replace("NAME", "{name}");
        ((*m).to_owned(), p)
    }))
    .collect();
    served.sort();
    assert_eq!(documented, served);
    // Each documented operation is served (the router's fallback answers
    // an unknown path `not_found`, an unknown method 405).
    for (verb, path) in &documented {
        let path = path.replace("{id}", "x").replace("{name}", "x");
        let r = s
            .request(method(verb), &path)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status != 405 && body["code"] != "not_found",
            "{verb} {path}: {status}"
        );
    }
    // And a path the document lacks is not.
    let r = s.send(s.request(Method::GET, "/admin/v1/secrets")).await;
    r.assert_problem(404, "not_found");
}

pub(crate) mod binary {
    //! The real executable: an admin action survives `kill -9` with its
    //! event; `users import` is all or nothing and reports per line;
    //! `audit tail` prints the events.

    use serde_json::{Value, json};

    use crate::{
        binary::{TEST_ENV, post, run, serve},
        support::{PASSWORD, TempDir},
    };

    fn ok(r: (bool, String, String)) -> String {
        assert!(r.0, "stdout: {}\nstderr: {}", r.1, r.2);
        r.1
    }

    /// An operator, `ops@example.com` with the role `ops` (`admin.*`),
    /// made by the CLI.
    pub(crate) async fn operator(dir: &TempDir, env: &[(&str, &str)]) {
        ok(run(
            dir,
            env,
            &["roles", "define", "ops", "--perm", "admin.*"],
            "",
        )
        .await);
        ok(run(
            dir,
            env,
            &[
                "users",
                "create",
                "--email",
                "ops@example.com",
                "--role",
                "ops",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await);
    }

    /// The events `audit tail` prints, parsed.
    async fn tail(dir: &TempDir) -> Vec<Value> {
        let out = ok(run(dir, TEST_ENV, &["audit", "tail", "-n", "1000"], "").await);
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn kill_9_right_after_an_action_keeps_its_event() {
        let dir = TempDir::new();
        let env = TEST_ENV;
        operator(&dir, env).await;
        let mut server = serve(&dir, env, "kill.log").await;
        let (_, login) = post(
            &server.base,
            "/auth/token",
            json!({"email": "ops@example.com", "password": PASSWORD}),
        )
        .await;
        let token = login["access_token"].as_str().unwrap().to_owned();
        let response = reqwest::Client::new()
            .post(format!("{}/admin/v1/users", server.base))
            .bearer_auth(&token)
            .json(&json!({"email": "kept@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
        let events = tail(&dir).await;
        let kinds: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        let ops = events[1]["target"].as_str().unwrap();
        assert_eq!(
            kinds,
            [
                ("role.defined", "cli"),
                ("user.created", "cli"),
                ("login.succeeded", ops),
                ("user.created", ops),
            ]
        );
        assert_eq!(events[3]["target"], created["user"]["id"]);
        // The log lines carry the events too, and no secret.
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(log.contains("user.created"), "{log}");
        for secret in [PASSWORD, token.as_str()] {
            assert!(!log.contains(secret));
        }
    }

    #[tokio::test]
    async fn users_import_is_all_or_nothing_and_reports_each_line() {
        let dir = TempDir::new();
        let env = TEST_ENV;
        let bcrypt = bcrypt::hash_with_salt(PASSWORD, 4, [9; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let good = [
            json!({"email": "one@example.com", "password": PASSWORD}),
            json!({"email": "two@example.com", "name": "Two", "password_hash": bcrypt}),
        ];
        let bad = json!({"email": "three@example.com", "password_hash": "$2b$04$broken"});
        let file = dir.0.join("users.jsonl");
        let lines = |values: &[&Value]| {
            values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        std::fs::write(&file, lines(&[&good[0], &good[1], &bad])).unwrap();
        let path = file.to_str().unwrap();
        let (success, out, _) = run(&dir, env, &["users", "import", path], "").await;
        assert!(!success);
        assert!(
            out.contains("line 3: error: three@example.com: invalid_password_hash"),
            "{out}"
        );
        assert!(
            tail(&dir).await.is_empty(),
            "a refused batch wrote something"
        );
        std::fs::write(
            &file,
            lines(&[&good[0], &good[1], &json!({"email": "x@example.com"})]),
        )
        .unwrap();
        let (success, out, _) = run(&dir, env, &["users", "import", path], "").await;
        assert!(
            !success && out.contains("line 3: error: give exactly one"),
            "{out}"
        );
        std::fs::write(&file, lines(&[&good[0], &good[1]])).unwrap();
        let out = ok(run(&dir, env, &["users", "import", path], "").await);
        assert!(out.contains("line 1: imported one@example.com"), "{out}");
        assert!(out.contains("line 2: imported two@example.com"), "{out}");
        assert!(out.contains("imported 2 user(s)"), "{out}");
        let events = tail(&dir).await;
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1]["detail"],
            json!({"roles": [], "imported_hash": true})
        );
        assert!(!serde_json::to_string(&events).unwrap().contains(&bcrypt));
        // Again: the emails exist now, so nothing is imported.
        let (success, out, _) = run(&dir, env, &["users", "import", path], "").await;
        assert!(
            !success && out.contains("line 1: error: one@example.com: email_taken"),
            "{out}"
        );
        // The imported hash signs in.
        let mut server = serve(&dir, env, "import.log").await;
        let (status, _) = post(
            &server.base,
            "/auth/token",
            json!({"email": "two@example.com", "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 200);
        server.child.start_kill().unwrap();
    }
}
