//! Several `edgeauth serve` processes on one PostgreSQL database: what one
//! server guarantees must hold across instances, through races and a
//! `kill -9`. PostgreSQL only: without a test server these pass saying so,
//! unless `EDGEAUTH_TEST_REQUIRE_POSTGRES=1` (CI) makes that a failure.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    binary::{Running, TEST_ENV, post, run, serve},
    support::{ISSUER, MASTER_KEY, PASSWORD, TempDir, postgres_url, stored_hash},
};

/// A fresh database on the test PostgreSQL server, and the settings that
/// point instances at it.
struct Cluster {
    dir: TempDir,
    url: String,
}

impl Cluster {
    fn new() -> Option<Self> {
        let admin = postgres_url()?;
        let dir = TempDir::postgres(&admin);
        let url = dir.db_url();
        Some(Self { dir, url })
    }

    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = TEST_ENV.to_vec();
        env.extend([
            ("DATABASE_URL", self.url.as_str()),
            ("MASTER_KEY", MASTER_KEY),
        ]);
        env.extend_from_slice(extra);
        env
    }

    async fn serve(&self, extra: &[(&str, &str)], name: &str) -> Running {
        serve(&self.dir, &self.env(extra), &format!("{name}.log")).await
    }

    async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

/// One refresh over a fresh connection: the status and body, or `None`
/// when no answer came (the instance is gone).
async fn refresh(client: &reqwest::Client, base: &str, token: &str) -> Option<(u16, Value)> {
    let response = client
        .post(format!("{base}/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

async fn register(base: &str, email: &str) {
    let (status, body) = post(
        base,
        "/auth/register",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn login(base: &str, email: &str) -> Value {
    let (status, body) = post(
        base,
        "/auth/token",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The database's invariants, whatever happened to the instances: one
/// signer; per family one token per generation, contiguous from 0, every
/// used token followed by its successor, at most one unused token; no
/// orphan rows.
async fn assert_integrity(pool: &PgPool) {
    let checks = [
        (
            "signers other than one",
            "SELECT count(*) - 1 FROM signing_keys WHERE retired_at IS NULL",
        ),
        (
            "families with two unused tokens",
            "SELECT count(*) FROM (SELECT session_id FROM refresh_tokens \
             WHERE used_at IS NULL GROUP BY session_id HAVING count(*) > 1) f",
        ),
        (
            "families whose generations are not 0..n",
            "SELECT count(*) FROM (SELECT session_id FROM refresh_tokens GROUP BY session_id \
             HAVING min(generation) <> 0 OR max(generation) + 1 <> count(*) \
                OR count(DISTINCT generation) <> count(*)) f",
        ),
        (
            "used tokens without a successor",
            "SELECT count(*) FROM refresh_tokens p WHERE p.used_at IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM refresh_tokens c \
              WHERE c.session_id = p.session_id AND c.generation = p.generation + 1)",
        ),
        (
            "unused tokens that have a successor",
            "SELECT count(*) FROM refresh_tokens p WHERE p.used_at IS NULL AND EXISTS \
             (SELECT 1 FROM refresh_tokens c \
              WHERE c.session_id = p.session_id AND c.generation = p.generation + 1)",
        ),
        (
            "sessions without a token",
            "SELECT count(*) FROM sessions s WHERE NOT EXISTS \
             (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)",
        ),
        (
            "tokens without a session",
            "SELECT count(*) FROM refresh_tokens t WHERE NOT EXISTS \
             (SELECT 1 FROM sessions s WHERE s.id = t.session_id)",
        ),
        (
            "sessions without a user",
            "SELECT count(*) FROM sessions s WHERE NOT EXISTS \
             (SELECT 1 FROM users u WHERE u.id = s.user_id)",
        ),
    ];
    for (what, sql) in checks {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        assert_eq!(n, 0, "integrity: {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_and_first_starts_race_harmlessly() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    // On an empty database at once: three `migrate` runs and two servers
    // (each migrates, then creates the first signing key if there is none).
    let env = cluster.env(&[]);
    let migrate = || run(&cluster.dir, &env, &["migrate"], "");
    let (m1, m2, m3, a, b) = tokio::join!(
        migrate(),
        migrate(),
        migrate(),
        cluster.serve(&[], "a"),
        cluster.serve(&[], "b"),
    );
    for (ok, stdout, stderr) in [m1, m2, m3] {
        assert!(ok, "migrate failed: {stdout}\n{stderr}");
    }
    let pool = cluster.pool().await;
    let applied: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, count(*) FROM _edgeauth_migrations GROUP BY version ORDER BY version",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!applied.is_empty());
    assert!(applied.iter().all(|&(_, n)| n == 1), "{applied:?}");
    assert_integrity(&pool).await;
    // Both serve the one key set with the one signer.
    let jwks = |base: String| async move {
        reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let (ja, jb) = tokio::join!(jwks(a.base.clone()), jwks(b.base.clone()));
    assert_eq!(ja["keys"].as_array().unwrap().len(), 1, "{ja}");
    assert_eq!(ja, jb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_instances_never_fork_a_family() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let strict = [("REFRESH_REUSE_GRACE", "0")];
    let (a, b) = tokio::join!(cluster.serve(&strict, "a"), cluster.serve(&strict, "b"));
    let bases = Arc::new([a.base.clone(), b.base.clone()]);
    // 1,000 rounds in 4 lanes: sign in (a new family), then refresh the
    // same token on both instances at the very same time. Strict mode: one
    // rotation wins, the other is reuse and revokes the family, so the
    // winner's successor is dead as well. Never two live successors,
    // never an error of the server's own.
    const LANES: usize = 4;
    const ROUNDS: usize = 1000 / LANES;
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            let bases = Arc::clone(&bases);
            tokio::spawn(async move {
                let email = format!("lane{lane}@example.com");
                register(&bases[lane % 2], &email).await;
                let client = reqwest::Client::new();
                for round in 0..ROUNDS {
                    let token = login(&bases[round % 2], &email).await["refresh_token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let (x, y) = tokio::join!(
                        refresh(&client, &bases[0], &token),
                        refresh(&client, &bases[1], &token),
                    );
                    let mut answers = [x.unwrap(), y.unwrap()];
                    answers.sort_by_key(|(status, _)| *status);
                    let [(won, body), (lost, problem)] = answers;
                    assert_eq!((won, lost), (200, 401), "round {round}: {body} / {problem}");
                    assert_eq!(problem["code"], "refresh_token_reused", "{problem}");
                    let successor = body["refresh_token"].as_str().unwrap();
                    let (status, after) = refresh(&client, &bases[round % 2], successor)
                        .await
                        .unwrap();
                    assert_eq!(status, 401, "the revoked family's successor still works");
                    assert_eq!(after["code"], "invalid_refresh_token", "{after}");
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await.unwrap();
    }
    let pool = cluster.pool().await;
    assert_integrity(&pool).await;
    let forks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE generation > 1 \
         OR (generation = 1 AND used_at IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(forks, 0, "a family went on after its reuse");
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(live, 0, "a family survived its reuse");
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_inside_the_window_agree_across_instances() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let (a, b) = tokio::join!(cluster.serve(&[], "a"), cluster.serve(&[], "b"));
    register(&a.base, "tabs@example.com").await;
    let mut token = login(&b.base, "tabs@example.com").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    // Two tabs refresh at once on different instances, 100 times over: both
    // get the same successor, and the family goes on as one chain.
    for round in 0..100 {
        let (x, y) = tokio::join!(
            refresh(&client, &a.base, &token),
            refresh(&client, &b.base, &token),
        );
        let ((sx, x), (sy, y)) = (x.unwrap(), y.unwrap());
        assert_eq!((sx, sy), (200, 200), "round {round}: {x} / {y}");
        assert_eq!(
            x["refresh_token"], y["refresh_token"],
            "round {round}: two branches"
        );
        token = x["refresh_token"].as_str().unwrap().to_owned();
    }
    let pool = cluster.pool().await;
    assert_integrity(&pool).await;
    let generations: i64 = sqlx::query_scalar("SELECT max(generation) FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(generations, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_under_load_loses_no_token() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let (mut victim, survivor) =
        tokio::join!(cluster.serve(&[], "victim"), cluster.serve(&[], "survivor"));
    let bases = Arc::new([victim.base.clone(), survivor.base.clone()]);
    register(&survivor.base, "crash@example.com").await;
    // 8 clients, each its own session, refresh as fast as they can,
    // alternating instances. A request with no answer (the victim died)
    // is retried with the same token on the survivor, as a client would:
    // the grace window gives back the successor it may have missed.
    const CLIENTS: usize = 8;
    let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let first = login(&survivor.base, "crash@example.com").await["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (bases, dead) = (Arc::clone(&bases), Arc::clone(&dead));
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut received = vec![first];
            let mut lost = 0;
            let mut n = 0usize;
            // Until 60 rotations after the kill (bounded by count).
            let mut after_kill = 0;
            while after_kill < 60 && n < 20_000 {
                n += 1;
                let victim_alive = !dead.load(std::sync::atomic::Ordering::SeqCst);
                let base = &bases[if victim_alive { (n + i) % 2 } else { 1 }];
                let token = received.last().unwrap().clone();
                match refresh(&client, base, &token).await {
                    Some((200, body)) => {
                        received.push(body["refresh_token"].as_str().unwrap().to_owned());
                        if !victim_alive {
                            after_kill += 1;
                        }
                    }
                    Some((status, body)) => panic!("client {i}: {status} {body}"),
                    None => lost += 1,
                }
            }
            (received, lost)
        }));
    }
    // Let the load run, then kill -9 the victim mid-request.
    let pool = cluster.pool().await;
    loop {
        let rotated: i64 =
            sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        if rotated >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    victim.child.start_kill().unwrap();
    victim.child.wait().await.unwrap();
    dead.store(true, std::sync::atomic::Ordering::SeqCst);

    let mut all = HashMap::new();
    let mut lost_total = 0;
    for client in clients {
        let (received, lost) = client.await.unwrap();
        lost_total += lost;
        let last = received.len() - 1;
        for (n, token) in received.into_iter().enumerate() {
            all.insert(stored_hash(&token), (n == last, token));
        }
    }
    eprintln!(
        "crash test: {} tokens received, {lost_total} requests lost",
        all.len()
    );

    // Every token a client got a 200 for is in the database: rotated (its
    // successor there) or the client's current one, and still good.
    assert_integrity(&pool).await;
    let rows: Vec<(Vec<u8>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT t.token_hash, t.used_at, s.revoked_at FROM refresh_tokens t \
         JOIN sessions s ON s.id = t.session_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let stored: HashMap<Vec<u8>, (Option<i64>, Option<i64>)> =
        rows.into_iter().map(|(h, u, r)| (h, (u, r))).collect();
    let client = reqwest::Client::new();
    for (hash, (current, token)) in &all {
        let (used, revoked) = stored.get(hash).expect("a received token is not stored");
        assert_eq!(*revoked, None, "a session was revoked");
        if *current {
            assert_eq!(*used, None, "a client's current token was used");
            let (status, body) = refresh(&client, &survivor.base, token).await.unwrap();
            assert_eq!(
                status, 200,
                "a client's current token no longer works: {body}"
            );
        } else {
            assert!(used.is_some(), "a superseded token is still unused");
        }
    }
    assert_integrity(&pool).await;
    drop(survivor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_reaches_every_instance() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    // `a` rereads the keys every second; `b` only every hour, so it sees
    // the new key only through a token signed with it. The new key is
    // published 2 s ahead of signing. The wait for it signs in about 20
    // times: `a` keeps them all, so the first session is not evicted.
    let (a, b) = tokio::join!(
        cluster.serve(
            &[
                ("KEY_RELOAD", "1"),
                ("KEY_PUBLISH_AHEAD", "2"),
                ("MAX_SESSIONS", "100"),
            ],
            "a"
        ),
        cluster.serve(&[("KEY_RELOAD", "1h")], "b"),
    );
    register(&a.base, "keys@example.com").await;
    let kid = |token: &str| -> String { jsonwebtoken::decode_header(token).unwrap().kid.unwrap() };
    let old = login(&a.base, "keys@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ahead = [("KEY_RELOAD", "1"), ("KEY_PUBLISH_AHEAD", "2")];
    let (ok, stdout, stderr) =
        run(&cluster.dir, &cluster.env(&ahead), &["keys", "rotate"], "").await;
    assert!(ok, "{stdout}\n{stderr}");
    // Once the key's time has come, `a` signs with it (bounded: 10 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let new = loop {
        let token = login(&a.base, "keys@example.com").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        if kid(&token) != kid(&old) {
            break token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a never switched keys"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // `b` accepts it at once (an unknown kid makes it reread), publishes
    // both keys, and the old key's tokens keep working everywhere.
    let client = reqwest::Client::new();
    for (base, token) in [(&b.base, &new), (&b.base, &old), (&a.base, &old)] {
        let response = client
            .get(format!("{base}/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    for base in [&a.base, &b.base] {
        let jwks: Value = reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids = crate::support::kids(&jwks);
        assert!(
            kids.contains(&kid(&new).as_str()) && kids.contains(&kid(&old).as_str()),
            "{kids:?}"
        );
    }
    // And `b` now signs with the new key too.
    let from_b = login(&b.base, "keys@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kid(&from_b), kid(&new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_count_on_every_instance() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let limit = [
        ("LOGIN_MAX_FAILURES", "3"),
        ("LOGIN_ADDRESS_MAX_FAILURES", "5"),
    ];
    let (a, b) = tokio::join!(cluster.serve(&limit, "a"), cluster.serve(&limit, "b"));
    register(&a.base, "brute@example.com").await;
    let wrong = json!({"email": "brute@example.com", "password": "not the password"});
    for base in [&a.base, &b.base, &a.base] {
        let (status, body) = post(base, "/auth/token", wrong.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    // Three failures across two instances: both refuse this address, even
    // the right password...
    let right = json!({"email": "Brute@Example.com", "password": PASSWORD});
    for base in [&b.base, &a.base] {
        let (status, body) = post(base, "/auth/token", right.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_attempts")),
            "{body}"
        );
    }
    // ...while the owner, from another address, signs in on either.
    let owner = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    for base in [&a.base, &b.base] {
        let r = owner
            .post(format!("{base}/auth/token"))
            .json(&right)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // The per-address count is shared too: two more failures on other
    // accounts, one per instance, and this address is stopped everywhere.
    for (base, email) in [(&a.base, "x@example.com"), (&b.base, "y@example.com")] {
        let (status, _) = post(
            base,
            "/auth/token",
            json!({"email": email, "password": "z"}),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, body) = post(
        &b.base,
        "/auth/token",
        json!({"email": "fresh@example.com", "password": "z"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotations_on_two_instances_rotate_once() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    // Both instances check every second whether the key has signed for
    // 3 s; of the two, one publishes the next key, 2 s ahead.
    let every = [
        ("KEY_RELOAD", "1"),
        ("KEY_PUBLISH_AHEAD", "2"),
        ("KEY_ROTATION_INTERVAL", "3"),
    ];
    let (a, b) = tokio::join!(cluster.serve(&every, "a"), cluster.serve(&every, "b"));
    tokio::time::sleep(Duration::from_secs(12)).await;
    let pool = cluster.pool().await;
    let mut starts: Vec<i64> = sqlx::query_scalar(
        "SELECT COALESCE(activates_at, created_at) FROM signing_keys ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(starts.len() >= 3, "no scheduled rotation: {starts:?}");
    // Never two rotations for one turn: each key signed its full interval
    // before the next took over.
    starts.dedup();
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 3, "rotated twice: {starts:?}");
    }
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM signing_keys WHERE retired_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(waiting, 1, "one key without a retirement");
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_instances_list_a_logout_made_on_one() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let fast = [("REVOCATIONS_MAX_AGE", "1")];
    let (a, b) = tokio::join!(cluster.serve(&fast, "a"), cluster.serve(&fast, "b"));
    register(&a.base, "feed@example.com").await;
    let session = login(&b.base, "feed@example.com").await;
    let sid = session["session_id"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let out = client
        .post(format!("{}/auth/logout", a.base))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let jwks = reqwest::get(format!("{}/.well-known/jwks.json", a.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys = edgeauth_core::KeySet::from_jwks(&jwks).unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "the instances run on the real clock"
    )]
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // Within the max-age (1 s) plus a request, both list it (bounded: 5 s).
    for base in [&a.base, &b.base] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let body = reqwest::get(format!("{base}/.well-known/revocations"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let feed = edgeauth_core::Revocations::verify(&body, &keys, ISSUER, now()).unwrap();
            if feed.contains(&sid) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{base} never listed it"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
