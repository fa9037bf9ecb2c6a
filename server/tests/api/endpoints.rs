//! Every endpoint, its JSON shapes and its error codes.

use reqwest::Method;
use serde_json::json;

use crate::support::{ISSUER, ORIGIN, PASSWORD, Server, T0, verify_independently};

#[tokio::test]
async fn register_login_me_and_an_independent_jose_check() {
    let s = Server::start(&[]).await;
    let r = s.register("Alice@Example.com").await;
    let user = &r.body["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["name"], "Test User");
    assert_eq!(user["roles"], json!([]));
    assert_eq!(user["created_at"], "2027-01-15T08:00:00Z");
    assert_eq!(user["id"].as_str().unwrap().len(), 36);

    let login = s.login("alice@example.com").await;
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    assert_eq!(login.str("refresh_token").len(), 43);
    assert_eq!(login.header("cache-control"), "no-store");
    let access = login.str("access_token");

    let me = s.get_bearer("/auth/me", &access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], user["id"]);
    assert_eq!(me.body["email"], "alice@example.com");
    assert_eq!(me.body["perms"], json!([]));
    assert_eq!(me.body["created_at"], "2027-01-15T08:00:00Z");

    let jwks = s.jwks().await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), "public, max-age=300");
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    let claims = verify_independently(&jwks.body, &access, T0);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["sid"], login.body["session_id"]);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["jti"].is_string());

    let health = s.send(s.request(Method::GET, "/healthz")).await;
    assert_eq!((health.status, &health.body["status"]), (200, &json!("ok")));
}

#[tokio::test]
async fn register_errors() {
    let s = Server::start(&[]).await;
    s.register("bob@example.com").await;
    s.post_json(
        "/auth/register",
        json!({"email": "BOB@example.com ", "password": PASSWORD}),
    )
    .await
    .assert_problem(409, "email_taken");

    let weak = s
        .post_json(
            "/auth/register",
            json!({"email": "carol@example.com", "password": "carol"}),
        )
        .await;
    weak.assert_problem(422, "weak_password");
    assert_eq!(
        weak.body["failed_rules"],
        json!(["too_short", "contains_email"])
    );
    let common = s
        .post_json(
            "/auth/register",
            json!({"email": "carol@example.com", "password": "password123"}),
        )
        .await;
    common.assert_problem(422, "weak_password");
    assert_eq!(common.body["failed_rules"], json!(["common_password"]));
    let long = "x1-".repeat(400);
    let too_long = s
        .post_json(
            "/auth/register",
            json!({"email": "carol@example.com", "password": long}),
        )
        .await;
    assert_eq!(too_long.body["failed_rules"], json!(["too_long"]));

    s.post_json(
        "/auth/register",
        json!({"email": "not-an-email", "password": PASSWORD}),
    )
    .await
    .assert_problem(422, "invalid_email");
    s.post_json("/auth/register", json!({"email": "dave@example.com"}))
        .await
        .assert_problem(422, "invalid_body");
    s.send(
        s.request(Method::POST, "/auth/register")
            .header("content-type", "application/json")
            .body("{\"email\": "),
    )
    .await
    .assert_problem(400, "invalid_request");
    s.send(
        s.request(Method::POST, "/auth/register")
            .header("content-type", "text/plain")
            .body("hello"),
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    let huge = json!({"email": "e@example.com", "password": "p".repeat(64 * 1024)});
    s.post_json("/auth/register", huge)
        .await
        .assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn login_gives_nothing_away_and_throttles() {
    let s = Server::start(&[("LOGIN_MAX_FAILURES", "3")]).await;
    s.register("erin@example.com").await;
    let unknown = s
        .post_json(
            "/auth/token",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let wrong = s
        .post_json(
            "/auth/token",
            json!({"email": "erin@example.com", "password": "not the password"}),
        )
        .await;
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(unknown.body["error"], "invalid_grant");
    assert!(unknown.body["error_description"].is_string());
    assert_eq!(
        unknown.header("www-authenticate"),
        wrong.header("www-authenticate")
    );

    // OAuth2 password grant as a form.
    let form = s
        .send(s.request(Method::POST, "/auth/token").form(&[
            ("grant_type", "password"),
            ("username", "erin@example.com"),
            ("password", PASSWORD),
        ]))
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let other = s
        .send(
            s.request(Method::POST, "/auth/token")
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    other.assert_problem(400, "unsupported_grant_type");
    assert_eq!(other.body["error"], "unsupported_grant_type");
    let missing = s
        .send(
            s.request(Method::POST, "/auth/token")
                .form(&[("grant_type", "password"), ("username", "erin@example.com")]),
        )
        .await;
    missing.assert_problem(400, "invalid_request");
    assert_eq!(missing.body["error"], "invalid_request");

    // Three failures in a row lock the email out until the window ends.
    for _ in 0..3 {
        s.post_json(
            "/auth/token",
            json!({"email": "erin@example.com", "password": "wrong again"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    let locked = s
        .post_json(
            "/auth/token",
            json!({"email": "erin@example.com", "password": PASSWORD}),
        )
        .await;
    locked.assert_problem(429, "too_many_attempts");
    assert_eq!(locked.header("retry-after"), "900");
    s.clock.advance(900);
    s.login("erin@example.com").await;
}

#[tokio::test]
async fn protected_endpoints_and_sessions() {
    let s = Server::start(&[]).await;
    s.register("frank@example.com").await;
    s.register("grace@example.com").await;
    let first = s.login("frank@example.com").await;
    s.clock.advance(60);
    let second = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header("user-agent", "phone/1.0")
                .json(&json!({"email": "frank@example.com", "password": PASSWORD})),
        )
        .await;
    let token = second.str("access_token");

    let none = s.send(s.request(Method::GET, "/auth/me")).await;
    none.assert_problem(401, "missing_token");
    assert_eq!(none.header("www-authenticate"), "Bearer realm=\"edgeauth\"");
    let garbage = s.get_bearer("/auth/me", "not.a.token").await;
    garbage.assert_problem(401, "malformed");
    assert!(
        garbage
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );
    s.send(
        s.request(Method::GET, "/auth/me")
            .header("authorization", "Basic Zm9vOmJhcg=="),
    )
    .await
    .assert_problem(401, "missing_token");

    let list = s.get_bearer("/auth/sessions", &token).await;
    assert_eq!(list.status, 200);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["id"], second.body["session_id"]);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["user_agent"], "phone/1.0");
    assert_eq!(sessions[1]["current"], false);
    assert_eq!(sessions[1]["created_at"], "2027-01-15T08:00:00Z");
    assert_eq!(sessions[1]["expires_at"], "2027-01-29T08:00:00Z");
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(sessions[0][field].as_str().unwrap().ends_with('Z'));
    }

    // Someone else's session is not found; one's own other session goes.
    let graces = s.login("grace@example.com").await;
    let foreign = format!("/auth/sessions/{}", graces.str("session_id"));
    s.send(s.request(Method::DELETE, &foreign).bearer_auth(&token))
        .await
        .assert_problem(404, "session_not_found");
    let own = format!("/auth/sessions/{}", first.str("session_id"));
    let gone = s
        .send(s.request(Method::DELETE, &own).bearer_auth(&token))
        .await;
    assert_eq!(gone.status, 204);
    s.get_bearer("/auth/me", &first.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    s.refresh(&first.str("refresh_token"))
        .await
        .assert_problem(401, "invalid_refresh_token");

    // Access tokens expire (900 s + 30 s leeway).
    s.clock.advance(900 + 30);
    s.get_bearer("/auth/me", &token)
        .await
        .assert_problem(401, "expired");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let s = Server::start(&[]).await;
    s.send(s.request(Method::GET, "/nope"))
        .await
        .assert_problem(404, "not_found");
    let wrong = s.send(s.request(Method::GET, "/auth/token")).await;
    wrong.assert_problem(405, "method_not_allowed");
    assert!(wrong.header("allow").contains("POST"));
}

#[tokio::test]
async fn cookies_flags_and_origin_checks() {
    let s = Server::start(&[]).await;
    s.register("heidi@example.com").await;
    // Cookies only for a page of an allowed origin: a login from elsewhere,
    // or with no origin at all, gets the body alone (no login CSRF).
    for origin in [Some("https://evil.example"), None] {
        let mut request = s.request(Method::POST, "/auth/token").form(&[
            ("grant_type", "password"),
            ("username", "heidi@example.com"),
            ("password", PASSWORD),
        ]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let other = s.send(request).await;
        assert_eq!(other.status, 200, "{}", other.body);
        assert!(
            other.cookies().is_empty(),
            "{origin:?}: {:?}",
            other.cookies()
        );
        assert_eq!(other.str("refresh_token").len(), 43);
    }
    let by_referer = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header("referer", format!("{ORIGIN}/sign-in?next=/"))
                .json(&json!({"email": "heidi@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(by_referer.cookies().len(), 2);
    let login = s.browser_login("heidi@example.com").await;
    let access = login.cookie("edgeauth_session");
    let refresh = login.cookie("edgeauth_refresh");
    assert!(access.contains("; Path=/;") && access.contains("; Max-Age=900;"));
    assert!(access.contains("; HttpOnly") && access.contains("; SameSite=Lax"));
    assert!(access.ends_with("; Secure"));
    assert!(refresh.contains("; Path=/auth;") && refresh.contains("; SameSite=Strict"));
    assert!(refresh.contains("; HttpOnly") && refresh.contains("; Max-Age=1209600;"));
    let access_value = access.split(';').next().unwrap().to_owned();
    let refresh_value = refresh.split(';').next().unwrap().to_owned();

    // Reading with the cookie needs no Origin.
    let me = s
        .send(
            s.request(Method::GET, "/auth/me")
                .header("cookie", &access_value),
        )
        .await;
    assert_eq!(me.status, 200);

    // Changing state with a cookie needs an allowed Origin (or Referer).
    let with = |origin: Option<(&str, &str)>| {
        let mut r = s
            .request(Method::POST, "/auth/refresh")
            .header("cookie", &refresh_value);
        if let Some((name, value)) = origin {
            r = r.header(name, value);
        }
        r
    };
    s.send(with(None))
        .await
        .assert_problem(403, "csrf_rejected");
    s.send(with(Some(("origin", "https://evil.example"))))
        .await
        .assert_problem(403, "csrf_rejected");
    s.send(with(Some(("referer", "https://evil.example/app"))))
        .await
        .assert_problem(403, "csrf_rejected");
    let ok = s.send(with(Some(("origin", ORIGIN)))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let rotated = ok
        .cookie("edgeauth_refresh")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let own = format!("/auth/sessions/{}", ok.str("session_id"));
    let new_access = ok
        .cookie("edgeauth_session")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    s.send(
        s.request(Method::DELETE, &own)
            .header("cookie", &new_access),
    )
    .await
    .assert_problem(403, "csrf_rejected");

    // Logout by cookie (Referer accepted) revokes the session and clears both.
    let out = s
        .send(
            s.request(Method::POST, "/auth/logout")
                .header("cookie", format!("{rotated}; {new_access}"))
                .header("referer", format!("{ORIGIN}/settings")),
        )
        .await;
    assert_eq!(out.status, 204);
    assert!(out.cookie("edgeauth_session").contains("Max-Age=0"));
    assert!(out.cookie("edgeauth_refresh").contains("Max-Age=0"));
    s.get_bearer("/auth/me", new_access.split_once('=').unwrap().1)
        .await
        .assert_problem(401, "revoked");
}

#[tokio::test]
async fn plain_http_development_cookies() {
    let s = Server::start(&[("COOKIE_SECURE", "false")]).await;
    s.register("ivan@example.com").await;
    let login = s.browser_login("ivan@example.com").await;
    assert!(!login.cookie("edgeauth_session").contains("Secure"));
}

#[tokio::test]
async fn logout_with_bearer_or_refresh_token() {
    let s = Server::start(&[]).await;
    s.register("judy@example.com").await;
    let a = s.login("judy@example.com").await;
    let b = s.login("judy@example.com").await;
    s.send(s.request(Method::POST, "/auth/logout"))
        .await
        .assert_problem(401, "missing_token");
    let out = s
        .send(
            s.request(Method::POST, "/auth/logout")
                .bearer_auth(a.str("access_token")),
        )
        .await;
    assert_eq!(out.status, 204);
    s.get_bearer("/auth/me", &a.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    s.refresh(&a.str("refresh_token"))
        .await
        .assert_problem(401, "invalid_refresh_token");
    // By refresh token in the body.
    let out = s
        .post_json(
            "/auth/logout",
            json!({"refresh_token": b.str("refresh_token")}),
        )
        .await;
    assert_eq!(out.status, 204);
    s.get_bearer("/auth/me", &b.str("access_token"))
        .await
        .assert_problem(401, "revoked");
}

#[tokio::test]
async fn logout_takes_only_the_current_or_in_grace_refresh_token() {
    let s = Server::start(&[]).await;
    s.register("kent@example.com").await;
    let logout = |token: String| s.post_json("/auth/logout", json!({ "refresh_token": token }));
    // The token just rotated, inside the grace window (a tab that has not
    // seen the rotation yet): it ends the session.
    let first = s.login("kent@example.com").await.str("refresh_token");
    let second = s.refresh(&first).await;
    assert_eq!(second.status, 200);
    assert_eq!(logout(first).await.status, 204);
    s.get_bearer("/auth/me", &second.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    // A stale token (rotated, grace over) is a reuse: it is answered as
    // one and the family is revoked, as a refresh with it would be.
    let first = s.login("kent@example.com").await.str("refresh_token");
    let second = s.refresh(&first).await;
    s.clock.advance(11);
    logout(first.clone())
        .await
        .assert_problem(401, "refresh_token_reused");
    s.refresh(&second.str("refresh_token"))
        .await
        .assert_problem(401, "invalid_refresh_token");
    // The current token ends its session; an unknown one ends nothing.
    let current = s.login("kent@example.com").await;
    assert_eq!(logout(current.str("refresh_token")).await.status, 204);
    s.get_bearer("/auth/me", &current.str("access_token"))
        .await
        .assert_problem(401, "revoked");
    assert_eq!(logout("A".repeat(43)).await.status, 204);
}

#[tokio::test]
async fn rehash_on_login_when_parameters_change() {
    let dir = crate::support::TempDir::new();
    let clock = std::sync::Arc::new(edgeauth_server::ManualClock::new(T0));
    {
        let old = crate::support::state(&dir, &[], clock.clone()).await;
        let app = edgeauth_server::app(old);
        use tower::ServiceExt as _;
        let request = axum::http::Request::post("/auth/register")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"email": "kim@example.com", "password": PASSWORD}).to_string(),
            ))
            .unwrap();
        assert_eq!(app.oneshot(request).await.unwrap().status(), 201);
    }
    let s = Server::start_in(dir, &[("ARGON2_MEMORY_KIB", "128")]).await;
    let before = s
        .state
        .store()
        .user_by_email("kim@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(before.password_hash.contains("m=64,"));
    s.login("kim@example.com").await;
    let after = s
        .state
        .store()
        .user_by_email("kim@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        after.password_hash.contains("m=128,"),
        "{}",
        after.password_hash
    );
    s.login("kim@example.com").await;
}

/// Driven in-process with tower's `oneshot`: malformed forms and bodies.
#[tokio::test]
async fn malformed_token_requests_in_process() {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt as _;
    let dir = crate::support::TempDir::new();
    let clock = std::sync::Arc::new(edgeauth_server::ManualClock::new(T0));
    let app = edgeauth_server::app(crate::support::state(&dir, &[], clock).await);
    let cases: [(&str, &str, u16, &str); 4] = [
        (
            "application/x-www-form-urlencoded",
            "grant_type=password&username=%ZZ&x",
            400,
            "invalid_request",
        ),
        ("application/json", "{\"email\": ", 400, "invalid_request"),
        (
            "application/json",
            "{\"email\": 5, \"password\": \"x\"}",
            422,
            "invalid_body",
        ),
        (
            "text/plain",
            "grant_type=password",
            415,
            "unsupported_media_type",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let request = Request::post("/auth/token")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(problem["code"], code, "{body}");
        assert!(problem["error"].is_string(), "{problem}");
    }
}

/// The verifier's codes reach clients unchanged, each as a 401.
#[tokio::test]
async fn verification_failures_carry_the_core_codes() {
    use base64::Engine as _;
    let s = Server::start(&[]).await;
    let token = s.signed_in("olga@example.com").await.str("access_token");
    let other = Server::start(&[]).await;
    let foreign = other
        .signed_in("olga@example.com")
        .await
        .str("access_token");
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    sig[0] ^= 1;
    let tampered = format!(
        "{signing_input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    );
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"none","typ":"at+jwt","kid":"k"}"#);
    let (_, rest) = token.split_once('.').unwrap();
    let alg_none = format!("{none_header}.{rest}");
    let huge = "a".repeat(9 * 1024);
    for (bad, code) in [
        (tampered.as_str(), "bad_signature"),
        (foreign.as_str(), "unknown_key"),
        (alg_none.as_str(), "unsupported_alg"),
        (huge.as_str(), "token_too_large"),
        ("a.b", "malformed"),
    ] {
        s.get_bearer("/auth/me", bad)
            .await
            .assert_problem(401, code);
    }
    s.clock.set(T0 - 120);
    s.get_bearer("/auth/me", &token)
        .await
        .assert_problem(401, "not_yet_valid");
}

/// A flood of logins is shed with 503 and Retry-After instead of queueing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_hashing_answers_503_with_retry_after() {
    let s = Server::start(&[
        ("HASH_CONCURRENCY", "1"),
        ("HASH_QUEUE", "0"),
        ("ARGON2_MEMORY_KIB", "8192"),
    ])
    .await;
    s.register("pat@example.com").await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let request = s
                .request(Method::POST, "/auth/token")
                .json(&json!({"email": "pat@example.com", "password": PASSWORD}));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let retry = response.headers().get("retry-after").cloned();
                let status = response.status().as_u16();
                (
                    status,
                    retry,
                    response.json::<serde_json::Value>().await.unwrap(),
                )
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, retry, body) = task.await.unwrap();
        if status == 503 {
            assert_eq!(body["code"], "server_busy");
            assert_eq!(retry.unwrap(), "1");
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
}

#[tokio::test]
async fn a_database_out_of_reach_answers_503_with_retry_after() {
    let s = Server::start(&[]).await;
    s.register("offline@example.com").await;
    s.store.close().await;
    for r in [
        s.post_json(
            "/auth/token",
            json!({"email": "offline@example.com", "password": PASSWORD}),
        )
        .await,
        s.refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await,
    ] {
        r.assert_problem(503, "database_unavailable");
        assert_eq!(r.header("retry-after"), "1");
        assert!(
            !r.body["detail"].as_str().unwrap().contains("pool"),
            "{}",
            r.body
        );
    }
}
