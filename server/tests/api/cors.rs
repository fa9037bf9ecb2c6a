//! CORS on `/auth/*` for browser apps on the allowed origins, and the
//! cookie-only token delivery (`Prefer: refresh-token=cookie`).

use reqwest::Method;
use serde_json::json;

use crate::support::{ORIGIN, PASSWORD, Resp, Server};

const PREFER: (&str, &str) = ("prefer", "refresh-token=cookie");

fn preflight(s: &Server, path: &str, origin: &str) -> reqwest::RequestBuilder {
    s.request(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization,prefer",
        )
}

fn list(r: &Resp, name: &str) -> Vec<String> {
    r.headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

/// The `name=value` part of a Set-Cookie, to send back as a Cookie.
fn cookie_pair(r: &Resp, name: &str) -> String {
    r.cookie(name).split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn preflights_from_an_allowed_origin_are_answered_with_credentials() {
    let s = Server::start(&[]).await;
    for path in [
        "/auth/token",
        "/auth/refresh",
        "/auth/logout",
        "/auth/register",
        "/auth/me",
    ] {
        let r = s.send(preflight(&s, path, ORIGIN)).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), ORIGIN, "{path}");
        assert_eq!(r.header("access-control-allow-credentials"), "true");
        let methods = list(&r, "access-control-allow-methods");
        for m in ["get", "post", "delete"] {
            assert!(methods.contains(&m.to_owned()), "{methods:?}");
        }
        let headers = list(&r, "access-control-allow-headers");
        for h in ["authorization", "content-type", "prefer"] {
            assert!(headers.contains(&h.to_owned()), "{headers:?}");
        }
        assert!(list(&r, "vary").contains(&"origin".to_owned()));
        assert!(!r.header("access-control-max-age").is_empty());
    }
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let s = Server::start(&[]).await;
    for origin in [
        "https://evil.example",
        "https://app.example.evil",
        "http://app.example",
        "null",
    ] {
        let r = s.send(preflight(&s, "/auth/token", origin)).await;
        assert!(
            r.headers.get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        let r = s
            .send(
                s.request(Method::POST, "/auth/token")
                    .header("origin", origin)
                    .json(&json!({"email": "nobody@example.com", "password": PASSWORD})),
            )
            .await;
        r.assert_problem(401, "invalid_credentials");
        assert!(r.headers.get("access-control-allow-origin").is_none());
        assert!(list(&r, "vary").contains(&"origin".to_owned()));
    }
}

#[tokio::test]
async fn answers_and_errors_on_auth_carry_the_exact_origin_never_a_wildcard() {
    let s = Server::start(&[]).await;
    s.register("cors@example.com").await;
    let login = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header("origin", ORIGIN)
                .json(&json!({"email": "cors@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.header("access-control-allow-origin"), ORIGIN);
    assert_eq!(login.header("access-control-allow-credentials"), "true");
    let exposed = list(&login, "access-control-expose-headers");
    for h in ["retry-after", "www-authenticate", "preference-applied"] {
        assert!(exposed.contains(&h.to_owned()), "{exposed:?}");
    }

    // A handler's error, and one axum makes itself (405), rewritten as
    // problem+json: both keep the CORS headers, so the page can read them.
    let me = s
        .send(s.request(Method::GET, "/auth/me").header("origin", ORIGIN))
        .await;
    me.assert_problem(401, "missing_token");
    assert_eq!(me.header("access-control-allow-origin"), ORIGIN);
    let wrong = s
        .send(
            s.request(Method::GET, "/auth/token")
                .header("origin", ORIGIN),
        )
        .await;
    wrong.assert_problem(405, "method_not_allowed");
    assert_eq!(wrong.header("access-control-allow-origin"), ORIGIN);
    assert!(list(&wrong, "vary").contains(&"origin".to_owned()));
}

#[tokio::test]
async fn cors_stays_on_auth() {
    let s = Server::start(&[]).await;
    for path in ["/healthz", "/.well-known/jwks.json"] {
        let r = s
            .send(s.request(Method::GET, path).header("origin", ORIGIN))
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers.get("access-control-allow-origin").is_none(),
            "{path}"
        );
        let r = s.send(preflight(&s, path, ORIGIN)).await;
        assert!(
            r.headers.get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn cookie_only_delivery_keeps_the_refresh_token_out_of_the_body() {
    let s = Server::start(&[]).await;
    s.register("jar@example.com").await;

    let plain = s.login("jar@example.com").await;
    assert_eq!(plain.str("refresh_token").len(), 43);
    assert!(plain.headers.get("preference-applied").is_none());

    // Cookie-only delivery needs an allowed origin, since only that gets
    // the cookie: elsewhere the preference is not applied.
    let elsewhere = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header(PREFER.0, PREFER.1)
                .json(&json!({"email": "jar@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(elsewhere.str("refresh_token").len(), 43);
    assert!(elsewhere.headers.get("preference-applied").is_none());
    assert!(elsewhere.cookies().is_empty());

    let login = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header(PREFER.0, PREFER.1)
                .header("origin", ORIGIN)
                .json(&json!({"email": "jar@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.get("refresh_token").is_none(), "{}", login.body);
    assert!(login.body["access_token"].is_string());
    assert_eq!(login.body["token_type"], "Bearer");
    assert!(login.body["session_id"].is_string());
    assert_eq!(login.header("preference-applied"), "refresh-token=cookie");
    assert!(login.cookie("edgeauth_refresh").contains("HttpOnly"));

    // The browser's refresh: the cookie, an allowed Origin, no body.
    let refreshed = s
        .send(
            s.request(Method::POST, "/auth/refresh")
                .header(PREFER.0, PREFER.1)
                .header("origin", ORIGIN)
                .header("cookie", cookie_pair(&login, "edgeauth_refresh")),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(refreshed.body.get("refresh_token").is_none());
    assert_eq!(refreshed.body["session_id"], login.body["session_id"]);
    assert_eq!(
        refreshed.header("preference-applied"),
        "refresh-token=cookie"
    );
    let next = cookie_pair(&refreshed, "edgeauth_refresh");
    assert_ne!(next, cookie_pair(&login, "edgeauth_refresh"));

    // The refresh grant of the token endpoint honours it too.
    let token = next.split_once('=').unwrap().1;
    let grant = s
        .send(
            s.request(Method::POST, "/auth/token")
                .header(PREFER.0, PREFER.1)
                .header("origin", ORIGIN)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
        )
        .await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    assert!(grant.body.get("refresh_token").is_none());
    assert!(grant.cookie("edgeauth_refresh").len() > "edgeauth_refresh=".len());
}
