//! The real `edgeauth` executable: zero-configuration start, durability
//! across `kill -9`, the CLI, and configuration errors that name the
//! setting. Readiness is the "listening on" line, never a sleep.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    process::{Child, Command},
};

use crate::support::{AUDIENCE, ISSUER, PASSWORD, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_edgeauth");

/// A command in `dir` with only the given EDGEAUTH_ settings.
pub(crate) fn edgeauth(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(&dir.0).kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("EDGEAUTH_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(format!("EDGEAUTH_{key}"), value);
    }
    cmd
}

pub(crate) const TEST_ENV: &[(&str, &str)] = &[
    ("MODE", "test"),
    ("ARGON2_MEMORY_KIB", "64"),
    ("ARGON2_ITERATIONS", "1"),
    ("ISSUER", ISSUER),
    ("AUDIENCE", AUDIENCE),
    ("LOG", "debug"),
    // The load tests sign in and refresh from one address far faster than
    // any client would; the limits have tests of their own.
    ("TOKEN_RATE", "off"),
    ("REFRESH_RATE", "off"),
    ("REFRESH_MAX_PER_MINUTE", "0"),
];

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) log: std::path::PathBuf,
    /// The metrics URL, with `METRICS_BIND` set.
    pub(crate) metrics: Option<String>,
}

pub(crate) async fn serve(dir: &TempDir, env: &[(&str, &str)], log_name: &str) -> Running {
    let log = dir.0.join(log_name);
    let stderr = std::fs::File::create(&log).unwrap();
    let mut child = edgeauth(dir, env, &["serve"])
        .env("EDGEAUTH_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut metrics = None;
    let base = loop {
        match lines.next_line().await.unwrap() {
            Some(line) => {
                if let Some(url) = line.strip_prefix("edgeauth metrics on ") {
                    metrics = Some(url.to_owned());
                }
                if let Some(url) = line.strip_prefix("edgeauth listening on ") {
                    break url.to_owned();
                }
            }
            None => panic!(
                "the server exited before listening: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    };
    Running {
        child,
        base,
        log,
        metrics,
    }
}

pub(crate) async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_me(base: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn zero_config_start_and_kill_9_loses_no_issued_token() {
    let dir = TempDir::new();
    let mut first = serve(&dir, TEST_ENV, "first.log").await;
    let base = first.base.clone();
    let (status, _) = post(
        &base,
        "/auth/register",
        json!({"email": "durable@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, login) = post(
        &base,
        "/auth/token",
        json!({"email": "durable@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let t0 = login["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = post(&base, "/auth/refresh", json!({ "refresh_token": t0 })).await;
    assert_eq!(status, 200);
    let t1 = rotated["refresh_token"].as_str().unwrap().to_owned();
    let access = rotated["access_token"].as_str().unwrap().to_owned();

    // kill -9 right after the last response.
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();

    // The zero-configuration defaults landed in the working directory.
    assert!(dir.0.join("edgeauth.db").exists());
    assert!(dir.0.join("edgeauth.master-key").exists());
    let first_log = std::fs::read_to_string(&first.log).unwrap();
    assert!(first_log.contains("DEVELOPMENT MODE"), "{first_log}");

    let mut second = serve(&dir, TEST_ENV, "second.log").await;
    let (status, me) = get_me(&second.base, &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "durable@example.com");
    let (status, again) = post(
        &second.base,
        "/auth/refresh",
        json!({ "refresh_token": t1 }),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let t2 = again["refresh_token"].as_str().unwrap().to_owned();
    second.child.start_kill().unwrap();
    second.child.wait().await.unwrap();

    // Nothing secret reached the logs (debug level).
    let logs = first_log + &std::fs::read_to_string(&second.log).unwrap();
    for secret in [PASSWORD, &t0, &t1, &t2, &access] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
}

pub(crate) async fn run(
    dir: &TempDir,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    let mut child = edgeauth(dir, env, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_users_roles_and_keys() {
    let dir = TempDir::new();
    let env = TEST_ENV;
    let ok = |r: (bool, String, String)| {
        assert!(r.0, "stdout: {}\nstderr: {}", r.1, r.2);
        r.1
    };
    ok(run(&dir, env, &["migrate"], "").await);
    ok(run(
        &dir,
        env,
        &["roles", "define", "viewer", "--perm", "articles.read"],
        "",
    )
    .await);
    let out = ok(run(
        &dir,
        env,
        &[
            "roles",
            "define",
            "editor",
            "--inherits",
            "viewer",
            "--perm",
            "articles.write",
        ],
        "",
    )
    .await);
    assert!(out.contains("roles [editor, viewer]"), "{out}");
    let (success, _, err) = run(
        &dir,
        env,
        &["roles", "define", "x", "--inherits", "nope"],
        "",
    )
    .await;
    assert!(!success && err.contains("nope"), "{err}");
    let (success, _, err) = run(
        &dir,
        env,
        &["roles", "define", "viewer", "--inherits", "editor"],
        "",
    )
    .await;
    assert!(!success && err.contains("inherit itself"), "{err}");
    // Names follow the core's grammar: no rule could ever require `adm*`.
    let (success, _, err) = run(&dir, env, &["roles", "define", "adm*"], "").await;
    assert!(
        !success && err.contains("invalid role \"adm*\": a role name cannot contain '*'"),
        "{err}"
    );
    let (success, _, err) = run(&dir, env, &["roles", "define", "ops", "--perm", "art*"], "").await;
    assert!(
        !success && err.contains("invalid permission \"art*\""),
        "{err}"
    );
    let listed = ok(run(&dir, env, &["roles", "list"], "").await);
    assert!(
        !listed.contains("adm*") && !listed.contains("ops"),
        "{listed}"
    );

    let (success, _, err) = run(
        &dir,
        env,
        &["users", "create", "--email", "cli@example.com"],
        "password\n",
    )
    .await;
    assert!(!success && err.contains("weak_password"), "{err}");
    ok(run(
        &dir,
        env,
        &[
            "users",
            "create",
            "--email",
            "cli@example.com",
            "--role",
            "editor",
        ],
        &format!("{PASSWORD}\n"),
    )
    .await);
    let (success, _, err) = run(
        &dir,
        env,
        &["roles", "grant", "cli@example.com", "beta*"],
        "",
    )
    .await;
    assert!(!success && err.contains("invalid role \"beta*\""), "{err}");
    ok(run(
        &dir,
        env,
        &["roles", "grant", "cli@example.com", "beta"],
        "",
    )
    .await);
    ok(run(
        &dir,
        env,
        &["roles", "revoke", "cli@example.com", "beta"],
        "",
    )
    .await);

    let listed = ok(run(&dir, env, &["keys", "list"], "").await);
    assert_eq!(listed.matches(" current ").count(), 1, "{listed}");
    let rotated = ok(run(&dir, env, &["keys", "rotate"], "").await);
    let new_kid = rotated
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(',')
        .to_owned();
    let listed = ok(run(&dir, env, &["keys", "list"], "").await);
    let line = |listed: &str, kid: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(kid))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line(&listed, &new_kid).contains(" next "), "{listed}");
    assert_eq!(listed.matches(" current ").count(), 1, "{listed}");
    let again = ok(run(&dir, env, &["keys", "rotate"], "").await);
    assert!(again.contains("already waiting"), "{again}");
    let replaced = ok(run(&dir, env, &["keys", "rotate", "--now"], "").await);
    let now_kid = replaced.split_whitespace().nth(3).unwrap().to_owned();
    let listed = ok(run(&dir, env, &["keys", "list"], "").await);
    assert!(line(&listed, &now_kid).contains(" current "), "{listed}");
    assert!(
        line(&listed, &new_kid).is_empty(),
        "the waiting key went too: {listed}"
    );

    let mut server = serve(&dir, env, "serve.log").await;
    let (status, login) = post(
        &server.base,
        "/auth/token",
        json!({"email": "cli@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let (_, me) = get_me(&server.base, login["access_token"].as_str().unwrap()).await;
    assert_eq!(me["roles"], json!(["editor", "viewer"]));
    assert_eq!(me["perms"], json!(["articles.read", "articles.write"]));
    let header = jsonwebtoken::decode_header(login["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(now_kid.as_str()));
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let key = ok(run(&dir, &[], &["keys", "generate-master-key"], "").await);
    assert_eq!(key.trim().len(), 64);
}

#[tokio::test]
async fn bad_configuration_stops_the_start_naming_the_setting() {
    let dir = TempDir::new();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("MODE", "production"), ("ISSUER", "https://auth.example")],
            "EDGEAUTH_MASTER_KEY",
        ),
        (
            &[
                ("MODE", "production"),
                ("ISSUER", "https://auth.example"),
                (
                    "MASTER_KEY",
                    "0000000000000000000000000000000000000000000000000000000000000000",
                ),
            ],
            "EDGEAUTH_MASTER_KEY",
        ),
        (&[("ACCESS_TTL", "soon")], "EDGEAUTH_ACCESS_TTL"),
        (
            &[("ARGON2_MEMORY_KIB", "1024")],
            "EDGEAUTH_ARGON2_MEMORY_KIB",
        ),
        (
            &[("DATABASE_URL", "postgres://db/edgeauth")],
            "EDGEAUTH_DATABASE_URL",
        ),
    ];
    for (env, setting) in cases {
        let (success, _, err) = run(&dir, env, &["serve"], "").await;
        assert!(!success, "{setting}");
        assert!(err.contains(setting), "{setting}: {err}");
    }
}
