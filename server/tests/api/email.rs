//! The email flows end to end, with a real SMTP server on loopback
//! (`tests/smtp_sink.py`, aiosmtpd): every mail is read back from the sink.
//! The in-process server's outbox is drained with `deliver_mail`, so a
//! test knows when a mail has been sent without waiting; the binary tests
//! (kill -9, two instances) wait for the outbox rows to be finished.

use std::{
    path::PathBuf,
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use edgeauth_server::Delivered;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
};

use crate::{
    binary::{TEST_ENV, post, serve},
    support::{ISSUER, MASTER_KEY, ORIGIN, PASSWORD, Resp, Server, T0, TempDir, postgres_url},
};

const NEW_PASSWORD: &str = "a brand new passphrase, long enough";

/// The SMTP sink: a process of its own, writing each mail it accepts as
/// JSON into a directory of its own (removed on drop).
pub(crate) struct Sink {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
}

impl Sink {
    pub(crate) async fn start() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("edgeauth-sink-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self::start_on(dir, 0).await
    }

    /// A sink on `port` (0: any free one), writing into `dir`. Ready when
    /// it says so, never after a sleep.
    pub(crate) async fn start_on(dir: PathBuf, port: u16) -> Self {
        let python = std::env::var("EDGEAUTH_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg("--dir")
            .arg(&dir)
            .arg("--port")
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 (with aiosmtpd: scripts/test-server.sh installs it)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next_line().await.unwrap().unwrap_or_else(|| {
            panic!("the SMTP sink did not start: is aiosmtpd installed? (python3 -m pip install --user aiosmtpd)")
        });
        let port = line.rsplit(':').next().unwrap().parse().unwrap();
        Self { child, port, dir }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops it, keeping what it received.
    pub(crate) async fn stop(mut self) -> (u16, PathBuf) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        (self.port, self.dir.clone())
    }

    /// Every mail received so far, in the order received.
    pub(crate) fn mails(&self) -> Vec<Value> {
        mails_in(&self.dir)
    }
}

pub(crate) fn mails_in(dir: &std::path::Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(u64, String, PathBuf)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            let (pid, n) = stem.split_once('-').unwrap();
            (n.parse().unwrap(), pid.to_owned(), p)
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, _, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The token of the link to `path` in a mail's text part.
fn token_in(mail: &Value, path: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let prefix = format!("{ISSUER}{path}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"))
        + prefix.len();
    text[start..start + 43].to_owned()
}

/// The one mail addressed to `to`.
fn mail_to<'a>(mails: &'a [Value], to: &str) -> &'a Value {
    let found: Vec<&Value> = mails.iter().filter(|m| m["rcpt_tos"][0] == to).collect();
    assert_eq!(found.len(), 1, "mails to {to}: {mails:?}");
    found[0]
}

/// The last mail whose subject has `part`.
fn last_with<'a>(mails: &'a [Value], part: &str) -> &'a Value {
    mails
        .iter()
        .rev()
        .find(|m| m["subject"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no mail about {part}: {mails:?}"))
}

async fn mail_server(extra: &[(&str, &str)]) -> (Server, Sink) {
    let sink = Sink::start().await;
    let url = sink.url();
    let mut settings = vec![("SMTP_URL", url.as_str()), ("MAIL_RATE", "off")];
    settings.extend_from_slice(extra);
    (Server::start(&settings).await, sink)
}

async fn deliver(server: &Server) -> Delivered {
    server.state.deliver_mail().await.unwrap()
}

fn sent(n: u32) -> Delivered {
    Delivered {
        sent: n,
        ..Delivered::default()
    }
}

impl Server {
    async fn post_bearer(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            self.request(Method::POST, path)
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    async fn form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .request(Method::POST, path)
            .header("origin", ORIGIN)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        (status, response.text().await.unwrap())
    }
}

fn access(login: &Resp) -> String {
    login.str("access_token")
}

#[tokio::test]
async fn verification_by_link_and_page() {
    let (server, sink) = mail_server(&[]).await;
    let login = server.signed_in("ann@example.com").await;
    let me = server.get_bearer("/auth/me", &access(&login)).await;
    assert_eq!(me.body["email_verified"], false);
    let r = server
        .post_bearer("/auth/email/verify/send", &access(&login), json!({}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(deliver(&server).await, sent(1));
    let mails = sink.mails();
    let mail = mail_to(&mails, "ann@example.com");
    assert_eq!(mail["to"], "Test User <ann@example.com>");
    assert!(mail["subject"].as_str().unwrap().contains("edgeauth"));
    let token = token_in(mail, "/auth/email/verify");
    assert!(mail["html"].as_str().unwrap().contains(&token));

    // The link's page (as a mail scanner would fetch it) spends nothing.
    for _ in 0..2 {
        let page = server
            .request(Method::GET, &format!("/auth/email/verify?token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<form method=\"post\" action=\"/auth/email/verify\">"),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{token}\"")));
        assert!(!html.contains("<script"));
    }
    let r = server
        .post_json("/auth/email/verify", json!({ "token": token }))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let me = server.get_bearer("/auth/me", &access(&login)).await;
    assert_eq!(me.body["email_verified"], true);
    // Single use, by JSON and by the page's form alike.
    server
        .post_json("/auth/email/verify", json!({ "token": token }))
        .await
        .assert_problem(400, "invalid_token");
    let (status, html) = server
        .form("/auth/email/verify", &[("token", &token)])
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("not valid"), "{html}");
}

#[tokio::test]
async fn a_reset_revokes_every_session_and_sends_a_notice() {
    let (server, sink) = mail_server(&[]).await;
    let first = server.signed_in("bob@example.com").await;
    let second = server.login("bob@example.com").await;
    let r = server
        .post_json(
            "/auth/password/forgot",
            json!({"email": " Bob@Example.com "}),
        )
        .await;
    assert_eq!((r.status, &r.body), (202, &Value::Null));
    assert_eq!(deliver(&server).await, sent(1));
    let token = token_in(
        mail_to(&sink.mails(), "bob@example.com"),
        "/auth/password/reset",
    );
    let page = server
        .request(Method::GET, &format!("/auth/password/reset?token={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("type=\"password\"") && page.contains("autocomplete=\"new-password\""));
    // A weak password is refused without spending the link.
    let (status, _) = server
        .form(
            "/auth/password/reset",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(status, 422);
    let (status, html) = server
        .form(
            "/auth/password/reset",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(status, 200, "{html}");
    for login in [&first, &second] {
        server
            .get_bearer("/auth/me", &access(login))
            .await
            .assert_problem(401, "revoked");
        let r = server.refresh(&login.str("refresh_token")).await;
        assert_eq!(r.status, 401);
    }
    // Both sessions are in the revocation feed.
    let jwks = server.jwks().await.body.to_string();
    let keys = edgeauth_core::KeySet::from_jwks(&jwks).unwrap();
    let body = server
        .request(Method::GET, "/.well-known/revocations")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let revoked = edgeauth_core::Revocations::verify(&body, &keys, ISSUER, T0).unwrap();
    for login in [&first, &second] {
        assert!(revoked.contains(&login.str("session_id")));
    }
    let r = server
        .post_json(
            "/auth/token",
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(401, "invalid_credentials");
    let r = server
        .post_json(
            "/auth/token",
            json!({"email": "bob@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(deliver(&server).await, sent(1));
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    last_with(&mails, "password was reset");
}

#[tokio::test]
async fn magic_links_sign_in_and_password_changes_end_other_sessions() {
    let (server, sink) = mail_server(&[]).await;
    let here = server.signed_in("cy@example.com").await;
    let r = server
        .post_json("/auth/magic-link", json!({"email": "cy@example.com"}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(deliver(&server).await, sent(1));
    let token = token_in(mail_to(&sink.mails(), "cy@example.com"), "/auth/magic-link");
    let page = server
        .request(Method::GET, &format!("/auth/magic-link?token={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("action=\"/auth/magic-link/verify\""));
    let there = server
        .post_json("/auth/magic-link/verify", json!({ "token": token }))
        .await;
    assert_eq!(there.status, 200, "{}", there.body);
    let payload = access(&there).split('.').nth(1).unwrap().to_owned();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["amr"], json!(["email"]));
    let me = server.get_bearer("/auth/me", &access(&there)).await;
    assert_eq!(
        me.body["email_verified"], true,
        "a magic link proves the address"
    );
    server
        .post_json("/auth/magic-link/verify", json!({ "token": token }))
        .await
        .assert_problem(400, "invalid_token");

    // A password change from `here` ends `there` and keeps `here`.
    let wrong = server
        .post_bearer(
            "/auth/password/change",
            &access(&here),
            json!({"current_password": "not it at all", "new_password": NEW_PASSWORD}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    let r = server
        .post_bearer(
            "/auth/password/change",
            &access(&here),
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        server.get_bearer("/auth/me", &access(&here)).await.status,
        200
    );
    server
        .get_bearer("/auth/me", &access(&there))
        .await
        .assert_problem(401, "revoked");
    assert_eq!(deliver(&server).await, sent(1));
    last_with(&sink.mails(), "password was changed");
}

#[tokio::test]
async fn email_changes_confirm_at_the_new_address_and_accounts_delete() {
    let (server, sink) = mail_server(&[]).await;
    let login = server.signed_in("dee@example.com").await;
    server.register("taken@example.com").await;
    let taken = server
        .post_bearer(
            "/auth/email/change",
            &access(&login),
            json!({"new_email": "taken@example.com", "password": PASSWORD}),
        )
        .await;
    taken.assert_problem(409, "email_taken");
    let r = server
        .post_bearer(
            "/auth/email/change",
            &access(&login),
            json!({"new_email": "dee@new.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(deliver(&server).await, sent(2));
    let mails = sink.mails();
    let notice = mail_to(&mails, "dee@example.com");
    assert!(notice["text"].as_str().unwrap().contains("dee@new.example"));
    assert!(!notice["text"].as_str().unwrap().contains("token="));
    let token = token_in(mail_to(&mails, "dee@new.example"), "/auth/email/change");
    let (status, html) = server
        .form("/auth/email/change/confirm", &[("token", &token)])
        .await;
    assert_eq!(status, 200, "{html}");
    let me = server.get_bearer("/auth/me", &access(&login)).await;
    assert_eq!(
        (me.str("email").as_str(), &me.body["email_verified"]),
        ("dee@new.example", &json!(true))
    );

    // Deleting takes the password, and then the account and its sessions are gone.
    let r = server
        .send(
            server
                .request(Method::DELETE, "/auth/me")
                .bearer_auth(access(&login))
                .json(&json!({"password": "wrong password here"})),
        )
        .await;
    r.assert_problem(401, "invalid_credentials");
    let r = server
        .send(
            server
                .request(Method::DELETE, "/auth/me")
                .bearer_auth(access(&login))
                .json(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    server
        .get_bearer("/auth/me", &access(&login))
        .await
        .assert_problem(401, "revoked");
    server
        .post_json(
            "/auth/token",
            json!({"email": "dee@new.example", "password": PASSWORD}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn unknown_addresses_get_the_same_answer_and_no_mail() {
    let (server, sink) = mail_server(&[]).await;
    server.register("known@example.com").await;
    for path in ["/auth/password/forgot", "/auth/magic-link"] {
        let known = server
            .post_json(path, json!({"email": "known@example.com"}))
            .await;
        let unknown = server
            .post_json(path, json!({"email": "nobody@example.com"}))
            .await;
        assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
        let names = |r: &Resp| {
            let mut names: Vec<String> = r
                .headers
                .keys()
                .filter(|n| *n != "x-request-id" && *n != "date")
                .map(|n| format!("{n}: {:?}", r.headers[n]))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(&known), names(&unknown));
        // An address that is not one is refused alike for both.
        server
            .post_json(
                path,
                json!({"email": "known@example.com\r\nBcc: eve@example.com"}),
            )
            .await
            .assert_problem(422, "invalid_email");
    }
    let done = deliver(&server).await;
    assert_eq!((done.sent, done.dropped), (2, 2));
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mails
            .iter()
            .all(|m| m["rcpt_tos"] == json!(["known@example.com"]))
    );
}

#[tokio::test]
async fn tokens_are_single_use_short_lived_and_of_one_purpose() {
    let (server, sink) = mail_server(&[]).await;
    server.register("eve@example.com").await;
    server
        .post_json("/auth/password/forgot", json!({"email": "eve@example.com"}))
        .await;
    server
        .post_json("/auth/magic-link", json!({"email": "eve@example.com"}))
        .await;
    assert_eq!(deliver(&server).await, sent(2));
    let mails = sink.mails();
    let reset = token_in(last_with(&mails, "Reset your"), "/auth/password/reset");
    let magic = token_in(last_with(&mails, "sign-in link"), "/auth/magic-link");
    // Another purpose's link, a malformed one, an unknown one.
    for (path, body) in [
        ("/auth/email/verify", json!({ "token": reset })),
        ("/auth/magic-link/verify", json!({ "token": reset })),
        (
            "/auth/password/reset",
            json!({"token": magic, "password": NEW_PASSWORD}),
        ),
        ("/auth/email/change/confirm", json!({ "token": magic })),
        ("/auth/email/verify", json!({"token": "not-a-token"})),
        ("/auth/email/verify", json!({"token": "A".repeat(43)})),
    ] {
        server
            .post_json(path, body)
            .await
            .assert_problem(400, "invalid_token");
    }
    // The magic link lasts 15 minutes, the reset link an hour.
    server.clock.advance(15 * 60);
    server
        .post_json("/auth/magic-link/verify", json!({ "token": magic }))
        .await
        .assert_problem(400, "token_expired");
    server.clock.advance(45 * 60 - 1);
    let r = server
        .post_json(
            "/auth/password/reset",
            json!({"token": reset, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    server
        .post_json(
            "/auth/password/reset",
            json!({"token": reset, "password": NEW_PASSWORD}),
        )
        .await
        .assert_problem(400, "invalid_token");
    // A fresh reset link, expired.
    server
        .post_json("/auth/password/forgot", json!({"email": "eve@example.com"}))
        .await;
    deliver(&server).await;
    let mails = sink.mails();
    let late = token_in(last_with(&mails, "Reset your"), "/auth/password/reset");
    server.clock.advance(3600);
    server
        .post_json(
            "/auth/password/reset",
            json!({"token": late, "password": NEW_PASSWORD}),
        )
        .await
        .assert_problem(400, "token_expired");
}

#[tokio::test]
async fn line_breaks_in_names_and_addresses_are_refused() {
    let (server, _sink) = mail_server(&[]).await;
    for (email, name, code) in [
        (
            "ann@example.com",
            "Ann\r\nBcc: eve@example.com",
            "invalid_name",
        ),
        ("ann@example.com", "Ann\nX-Header: y", "invalid_name"),
        (
            "ann@example.com\r\nBcc: eve@example.com",
            "Ann",
            "invalid_email",
        ),
        (
            "ann@example.com\nBcc: eve@example.com",
            "Ann",
            "invalid_email",
        ),
    ] {
        server
            .post_json(
                "/auth/register",
                json!({"email": email, "password": PASSWORD, "name": name}),
            )
            .await
            .assert_problem(422, code);
    }
    let login = server.signed_in("ann@example.com").await;
    server
        .post_bearer(
            "/auth/email/change",
            &access(&login),
            json!({"new_email": "x@example.com\r\nBcc: eve@example.com", "password": PASSWORD}),
        )
        .await
        .assert_problem(422, "invalid_email");
}

#[tokio::test]
async fn required_verification_stops_unverified_logins_after_the_password() {
    let (server, sink) = mail_server(&[("REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    server.register("fay@example.com").await;
    let wrong = server
        .post_json(
            "/auth/token",
            json!({"email": "fay@example.com", "password": "wrong password!"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    let r = server
        .post_json(
            "/auth/token",
            json!({"email": "fay@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(403, "email_not_verified");
    // Registration queued the verification mail.
    assert_eq!(deliver(&server).await, sent(1));
    let token = token_in(
        mail_to(&sink.mails(), "fay@example.com"),
        "/auth/email/verify",
    );
    let r = server
        .post_json("/auth/email/verify", json!({ "token": token }))
        .await;
    assert_eq!(r.status, 204);
    server.login("fay@example.com").await;
}

#[tokio::test]
async fn mail_endpoints_are_limited_per_address() {
    let (server, _sink) = mail_server(&[("MAIL_RATE", "2/10m")]).await;
    for _ in 0..2 {
        let r = server
            .post_json("/auth/password/forgot", json!({"email": "x@example.com"}))
            .await;
        assert_eq!(r.status, 202);
    }
    let r = server
        .post_json("/auth/magic-link", json!({"email": "y@example.com"}))
        .await;
    r.assert_problem(429, "too_many_attempts");
    assert!(!r.header("retry-after").is_empty());
}

#[tokio::test]
async fn mail_queued_while_the_server_is_down_goes_out_once_when_it_is_back() {
    let (server, sink) = mail_server(&[("MAIL_RETRY_BASE", "30s")]).await;
    for n in 0..3 {
        server.register(&format!("u{n}@example.com")).await;
    }
    let (port, dir) = sink.stop().await;
    for n in 0..3 {
        let r = server
            .post_json(
                "/auth/password/forgot",
                json!({"email": format!("u{n}@example.com")}),
            )
            .await;
        assert_eq!(r.status, 202);
    }
    let down = deliver(&server).await;
    assert_eq!(
        down,
        Delivered {
            retried: 3,
            ..Delivered::default()
        }
    );
    let sink = Sink::start_on(dir, port).await;
    // Not due before the backoff ends; then each is sent once.
    assert_eq!(deliver(&server).await, Delivered::default());
    server.clock.advance(30);
    assert_eq!(deliver(&server).await, sent(3));
    assert_eq!(deliver(&server).await, Delivered::default());
    let mails = sink.mails();
    assert_eq!(mails.len(), 3);
    let mut ids: Vec<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    // The link of a retried mail works (the earlier attempt's was replaced).
    let token = token_in(&mails[0], "/auth/password/reset");
    let r = server
        .post_json(
            "/auth/password/reset",
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The outbox rows' states, read from the database the instances share.
async fn outbox_states(url: &str) -> Vec<String> {
    let sql = "SELECT state FROM mail_outbox ORDER BY id";
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let states = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        states
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let states = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        states
    }
}

/// Waits (bounded) until every outbox row is finished; their states.
async fn all_finished(url: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let states = outbox_states(url).await;
        if !states.is_empty() && states.iter().all(|s| s != "pending") {
            return states;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still pending: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn distinct_ids(mails: &[Value]) -> usize {
    let mut ids: Vec<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

#[tokio::test]
async fn kill_9_with_mail_queued_loses_none_and_sends_none_twice() {
    let dir = TempDir::new();
    let db = dir.db_url();
    let sink = Sink::start().await;
    let (port, sink_dir) = sink.stop().await;
    let url = format!("smtp://127.0.0.1:{port}");
    let mut env = TEST_ENV.to_vec();
    env.extend([
        ("SMTP_URL", url.as_str()),
        ("MAIL_RATE", "off"),
        ("MAIL_RETRY_BASE", "1s"),
        ("SMTP_TIMEOUT", "1s"),
        ("DATABASE_URL", db.as_str()),
    ]);
    let mut first = serve(&dir, &env, "first.log").await;
    for n in 0..5 {
        let email = format!("k{n}@example.com");
        let (status, _) = post(
            &first.base,
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = post(
            &first.base,
            "/auth/password/forgot",
            json!({ "email": email }),
        )
        .await;
        assert_eq!(status, 202);
    }
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();
    assert!(outbox_states(&db).await.iter().all(|s| s == "pending"));

    let sink = Sink::start_on(sink_dir, port).await;
    env.push(("METRICS_BIND", "127.0.0.1:0"));
    let mut second = serve(&dir, &env, "second.log").await;
    let states = all_finished(&db).await;
    assert_eq!(states, vec!["sent"; 5]);
    let mails = sink.mails();
    assert_eq!((mails.len(), distinct_ids(&mails)), (5, 5));
    // The sender counted them.
    let scrape = crate::metrics::scrape(second.metrics.as_ref().unwrap()).await;
    let sent = crate::metrics::value(&scrape, "edgeauth_mails_total{outcome=\"sent\"}");
    assert_eq!(sent, 5.0, "{scrape:?}");
    second.child.start_kill().unwrap();
    second.child.wait().await.unwrap();
    let logs = std::fs::read_to_string(&first.log).unwrap()
        + &std::fs::read_to_string(&second.log).unwrap();
    for mail in &mails {
        let token = token_in(mail, "/auth/password/reset");
        assert!(!logs.contains(&token), "a link reached the log");
    }
}

#[tokio::test]
async fn two_instances_on_postgres_send_each_mail_once() {
    let Some(admin) = postgres_url() else {
        return;
    };
    let dir = TempDir::postgres(&admin);
    let db = dir.db_url();
    let sink = Sink::start().await;
    let url = sink.url();
    let mut env = TEST_ENV.to_vec();
    env.extend([
        ("DATABASE_URL", db.as_str()),
        ("MASTER_KEY", MASTER_KEY),
        ("SMTP_URL", url.as_str()),
        ("MAIL_RATE", "off"),
    ]);
    let mut a = serve(&dir, &env, "a.log").await;
    let (status, _) = post(
        &a.base,
        "/auth/register",
        json!({"email": "many@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let mut b = serve(&dir, &env, "b.log").await;
    // Queue the mails behind both instances' backs, all due at once: both
    // senders find them at their next look and race for them.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    sqlx::query(
        "INSERT INTO mail_outbox (id, kind, user_id, recipient, created_at, next_attempt_at) \
         SELECT 'm' || n, 'password_changed', id, email, 0, 0 \
         FROM users, generate_series(1, 60) AS n",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let states = all_finished(&db).await;
    assert_eq!(states, vec!["sent"; 60]);
    let mails = sink.mails();
    assert_eq!((mails.len(), distinct_ids(&mails)), (60, 60));
    for server in [&mut a, &mut b] {
        server.child.start_kill().unwrap();
        server.child.wait().await.unwrap();
    }
}
