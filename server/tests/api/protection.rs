//! Account protection, end to end: clients at distinct loopback addresses
//! (127.0.0.2, 127.0.0.3, ...) play the owner and the attackers.

use std::net::IpAddr;

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, Resp, Server, stored_hash};

/// A client whose connections come from `ip` (any 127.0.0.0/8 address
/// reaches a server on 127.0.0.1).
fn from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(s: &Server, client: &reqwest::Client, email: &str, password: &str) -> Resp {
    s.send(
        client
            .post(format!("{}/auth/token", s.base))
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

/// Whether the store still holds a refresh token.
async fn known(s: &Server, token: &str) -> bool {
    let hash: [u8; 32] = stored_hash(token).try_into().unwrap();
    s.store
        .shared()
        .refresh_token(&hash)
        .await
        .unwrap()
        .is_some()
}

#[track_caller]
fn assert_throttled(r: &Resp) {
    r.assert_problem(429, "too_many_attempts");
    let retry: u64 = r.header("retry-after").parse().unwrap();
    assert!(retry >= 1, "{retry}");
}

#[tokio::test]
async fn an_attackers_failures_never_lock_the_owner_out() {
    let s = Server::start(&[("LOGIN_MAX_FAILURES", "3")]).await;
    s.register("owner@example.com").await;
    let attacker = from("127.0.0.2");
    for _ in 0..3 {
        login_from(&s, &attacker, "owner@example.com", "guess")
            .await
            .assert_problem(401, "invalid_credentials");
        login_from(&s, &attacker, "nobody@example.com", "guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // The attacker's address is stopped on that account, even with the
    // right password, and answered alike for an unknown account.
    let known = login_from(&s, &attacker, "owner@example.com", PASSWORD).await;
    let unknown = login_from(&s, &attacker, "nobody@example.com", PASSWORD).await;
    assert_throttled(&known);
    assert_throttled(&unknown);
    assert_eq!(known.body["detail"], unknown.body["detail"]);
    assert_eq!(known.header("retry-after"), unknown.header("retry-after"));
    // The owner, elsewhere, signs in at once.
    let owner = login_from(&s, &from("127.0.0.3"), "owner@example.com", PASSWORD).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    // The window ends, and the attacker's address may try again.
    s.clock.advance(15 * 60);
    let again = login_from(&s, &attacker, "owner@example.com", PASSWORD).await;
    assert_eq!(again.status, 200, "{}", again.body);
}

#[tokio::test]
async fn one_address_cannot_spray_many_accounts() {
    let s = Server::start(&[("LOGIN_ADDRESS_MAX_FAILURES", "4")]).await;
    s.register("victim@example.com").await;
    let sprayer = from("127.0.0.4");
    for n in 0..4 {
        login_from(&s, &sprayer, &format!("user{n}@example.com"), "Winter2026!")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_throttled(&login_from(&s, &sprayer, "victim@example.com", PASSWORD).await);
    let owner = login_from(&s, &from("127.0.0.5"), "victim@example.com", PASSWORD).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
}

#[tokio::test]
async fn the_account_ceiling_holds_against_many_addresses() {
    let s = Server::start(&[("LOGIN_ACCOUNT_MAX_FAILURES", "3")]).await;
    s.register("target@example.com").await;
    for n in 6..9 {
        login_from(
            &s,
            &from(&format!("127.0.0.{n}")),
            "target@example.com",
            "x",
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    assert_throttled(&login_from(&s, &from("127.0.0.9"), "target@example.com", PASSWORD).await);
    // A success clears the ceiling's count once the window passed.
    s.clock.advance(15 * 60);
    let owner = login_from(&s, &from("127.0.0.9"), "target@example.com", PASSWORD).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
}

#[tokio::test]
async fn registration_and_refresh_are_limited_per_address() {
    let s = Server::start(&[("REGISTER_RATE", "3/1h"), ("REFRESH_RATE", "2/1h")]).await;
    let flooder = from("127.0.0.10");
    let register = |client: reqwest::Client, n: u32| {
        let request = client
            .post(format!("{}/auth/register", s.base))
            .json(&json!({"email": format!("r{n}@example.com"), "password": PASSWORD}));
        s.send(request)
    };
    for n in 0..3 {
        assert_eq!(register(flooder.clone(), n).await.status, 201);
    }
    assert_throttled(&register(flooder.clone(), 3).await);
    assert_eq!(register(from("127.0.0.11"), 4).await.status, 201);

    let token = login_from(&s, &flooder, "r0@example.com", PASSWORD)
        .await
        .str("refresh_token");
    let refresh = |token: String| {
        s.send(
            flooder
                .post(format!("{}/auth/refresh", s.base))
                .json(&json!({ "refresh_token": token })),
        )
    };
    let first = refresh(token).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = refresh(first.str("refresh_token")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_throttled(&refresh(second.str("refresh_token")).await);
    // The token endpoint's refresh grant shares the refresh allowance.
    let grant = s
        .send(flooder.post(format!("{}/auth/token", s.base)).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.str("refresh_token").as_str()),
        ]))
        .await;
    assert_throttled(&grant);
}

#[tokio::test]
async fn rotations_per_session_are_capped_per_minute() {
    let s = Server::start(&[("REFRESH_MAX_PER_MINUTE", "3")]).await;
    let mut token = s.signed_in("busy@example.com").await.str("refresh_token");
    // The sign-in's token and two rotations make three within the minute.
    for _ in 0..2 {
        let r = s.refresh(&token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        token = r.str("refresh_token");
    }
    let capped = s.refresh(&token).await;
    assert_throttled(&capped);
    // Refused, the token is still the current one, and works a minute on.
    s.clock.advance(61);
    let later = s.refresh(&token).await;
    assert_eq!(later.status, 200, "{}", later.body);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let s = Server::start(&[
        ("TRUSTED_PROXIES", "127.0.0.20"),
        ("LOGIN_MAX_FAILURES", "2"),
    ])
    .await;
    s.register("fwd@example.com").await;
    let proxy = from("127.0.0.20");
    let via = |client: &reqwest::Client,
               header: &'static str,
               value: &'static str,
               password: &'static str| {
        let request = client
            .post(format!("{}/auth/token", s.base))
            .header(header, value)
            .json(&json!({"email": "fwd@example.com", "password": password}));
        s.send(request)
    };
    for _ in 0..2 {
        via(&proxy, "x-forwarded-for", "198.51.100.7, 127.0.0.20", "x")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // The client behind the proxy is stopped...
    assert_throttled(&via(&proxy, "x-forwarded-for", "198.51.100.7", PASSWORD).await);
    assert_throttled(&via(&proxy, "cf-connecting-ip", "198.51.100.7", PASSWORD).await);
    // ...another client behind the same proxy is not...
    let other = via(&proxy, "x-forwarded-for", "203.0.113.5", PASSWORD).await;
    assert_eq!(other.status, 200, "{}", other.body);
    // ...and a malformed header counts as the proxy itself, which has no
    // failures of its own.
    let malformed = via(&proxy, "x-forwarded-for", "198.51.100.7, unknown", PASSWORD).await;
    assert_eq!(malformed.status, 200, "{}", malformed.body);
    // An untrusted peer cannot claim to be someone else: its own failures
    // count against itself, whatever it forwards.
    let liar = from("127.0.0.21");
    for _ in 0..2 {
        via(&liar, "x-forwarded-for", "203.0.113.5", "x")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_throttled(&via(&liar, "x-forwarded-for", "203.0.113.99", PASSWORD).await);
    let still = via(&proxy, "x-forwarded-for", "203.0.113.5", PASSWORD).await;
    assert_eq!(still.status, 200, "{}", still.body);
}

#[tokio::test]
async fn look_alike_emails_and_names_are_one_account_or_refused() {
    let s = Server::start(&[]).await;
    let register = |email: &str, name: &str| {
        s.post_json(
            "/auth/register",
            json!({"email": email, "password": PASSWORD, "name": name}),
        )
    };
    assert_eq!(
        register("jos\u{e9}@example.com", "Jos\u{e9}").await.status,
        201
    );
    register("jose\u{301}@example.com", "x")
        .await
        .assert_problem(409, "email_taken");
    assert_eq!(
        register("alice@b\u{fc}cher.example", "Alice").await.status,
        201
    );
    register("\u{ff41}lice@XN--BCHER-KVA.example", "x")
        .await
        .assert_problem(409, "email_taken");
    for invisible in [
        "bob@example.com\u{200b}",
        "b\u{200d}ob@example.com",
        "bob\u{202e}@example.com",
    ] {
        register(invisible, "Bob")
            .await
            .assert_problem(422, "invalid_email");
    }
    register("bob@example.com", "evil\u{202e}gnp.exe")
        .await
        .assert_problem(422, "invalid_name");
    // Either spelling signs in to the one account.
    let login = s.login("jose\u{301}@EXAMPLE.com").await;
    let me = s.get_bearer("/auth/me", &login.str("access_token")).await;
    assert_eq!(me.body["email"], "jos\u{e9}@example.com");
    let login = s.login("ALICE@b\u{fc}cher.example").await;
    let me = s.get_bearer("/auth/me", &login.str("access_token")).await;
    assert_eq!(me.body["email"], "alice@xn--bcher-kva.example");
}

#[tokio::test]
async fn ended_sessions_are_purged_after_their_age() {
    let s = Server::start(&[("SESSION_PURGE_AFTER", "2h")]).await;
    let ended = s.signed_in("old@example.com").await;
    let live = s.login("old@example.com").await;
    let logout = s
        .send(
            s.request(Method::POST, "/auth/logout")
                .bearer_auth(ended.str("access_token")),
        )
        .await;
    assert_eq!(logout.status, 204);
    let stale = ended.str("refresh_token");
    // Within the age, the ended session is kept (and a late refresh of it
    // is known, not just invalid).
    s.clock.advance(3600);
    assert_eq!(s.state.purge_ended_sessions().await.unwrap(), 0);
    assert!(known(&s, &stale).await);
    s.clock.advance(3601);
    assert_eq!(s.state.purge_ended_sessions().await.unwrap(), 1);
    assert!(!known(&s, &stale).await);
    s.refresh(&stale)
        .await
        .assert_problem(401, "invalid_refresh_token");
    // The live session is untouched.
    let r = s.refresh(&live.str("refresh_token")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
