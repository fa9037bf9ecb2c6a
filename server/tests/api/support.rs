//! Test harness: the real app on an ephemeral loopback port, a temporary
//! database, a manual clock, and a real HTTP client.
//!
//! The database is SQLite, or with `EDGEAUTH_TEST_BACKEND=postgres` a fresh
//! PostgreSQL database per test on the server at
//! `EDGEAUTH_TEST_POSTGRES_URL` (scripts/test-server.sh starts a throwaway
//! one and runs the suite both ways), so every HTTP test runs on both.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use edgeauth_server::{AnyStore, AppState, Config, ManualClock, app, connect_store};
use reqwest::{Method, header::HeaderMap};
use serde_json::{Value, json};

/// The manual clock's start: 2027-01-15T08:00:00Z.
pub const T0: u64 = 1_800_000_000;
pub const ISSUER: &str = "https://auth.example";
pub const AUDIENCE: &str = "api";
pub const ORIGIN: &str = "https://app.example";
/// A fixed, random-looking master key for tests.
pub const MASTER_KEY: &str = "3f1c9a7be2d04c6f8a15b3e9d27c6f40a8e1b5c39d7f2a6e0c4b8d1f5a9e3c72";
pub const PASSWORD: &str = "correct horse battery staple";

/// The PostgreSQL server for tests (an admin URL, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`). When unset, the
/// PostgreSQL-only tests say so and pass, unless
/// `EDGEAUTH_TEST_REQUIRE_POSTGRES=1` (set by scripts/test-server.sh, so CI
/// never skips them) makes that a failure.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("EDGEAUTH_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("EDGEAUTH_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "EDGEAUTH_TEST_REQUIRE_POSTGRES=1 but EDGEAUTH_TEST_POSTGRES_URL is not set"
        );
        eprintln!("EDGEAUTH_TEST_POSTGRES_URL not set: PostgreSQL part not run");
    }
    url
}

/// Whether this run's HTTP tests use PostgreSQL (`EDGEAUTH_TEST_BACKEND`).
pub fn on_postgres() -> bool {
    std::env::var("EDGEAUTH_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// Runs SQL on the test PostgreSQL server's admin database, from a thread
/// of its own (so sync code, `Drop` included, can use it).
fn pg_admin(admin_url: &str, sql: String) {
    let url = admin_url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
    })
    .join()
    .unwrap();
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let base = &head[..head.rfind('/').unwrap()];
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{base}/{name}{query}")
}

/// A fresh database: a directory removed when dropped (the working
/// directory of spawned binaries, and the SQLite file), plus on PostgreSQL
/// a database of its own, dropped with it.
pub struct TempDir(pub PathBuf, Option<(String, String)>);

impl TempDir {
    /// A fresh database of this run's backend.
    pub fn new() -> Self {
        if on_postgres() {
            Self::postgres(&postgres_url().expect("EDGEAUTH_TEST_POSTGRES_URL"))
        } else {
            Self::sqlite()
        }
    }

    /// A fresh SQLite database, whatever this run's backend.
    pub fn sqlite() -> Self {
        Self::with(None)
    }

    /// A fresh PostgreSQL database on the server at `admin_url`.
    pub fn postgres(admin_url: &str) -> Self {
        Self::with(Some(admin_url))
    }

    fn with(admin_url: Option<&str>) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("edgeauth-test-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pg = admin_url.map(|admin| {
            let db = name.replace('-', "_");
            pg_admin(admin, format!("CREATE DATABASE {db}"));
            (admin.to_owned(), db)
        });
        Self(dir, pg)
    }

    pub fn db_url(&self) -> String {
        match &self.1 {
            Some((admin, db)) => with_database(admin, db),
            None => format!("sqlite://{}", self.0.join("edgeauth.db").display()),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some((admin, db)) = &self.1 {
            pg_admin(admin, format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// Opens and migrates the store a configuration names.
pub async fn open(config: &Config) -> AnyStore {
    let store = connect_store(
        &config.database.url,
        config.database.sqlite_synchronous,
        config.database.pool_size,
    )
    .await
    .unwrap();
    store.shared().migrate().await.unwrap();
    store
}

/// What the database keys a refresh token by: SHA-256 of its 32 bytes.
pub fn stored_hash(token: &str) -> Vec<u8> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    sha2::Sha256::digest(raw).to_vec()
}

/// The settings every test server gets; `extra` overrides.
pub fn settings(dir: &TempDir, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("MODE", "test"),
        ("ISSUER", ISSUER),
        ("AUDIENCE", AUDIENCE),
        ("MASTER_KEY", MASTER_KEY),
        ("ALLOWED_ORIGINS", ORIGIN),
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
    ]
    .iter()
    .map(|(k, v)| (format!("EDGEAUTH_{k}"), (*v).to_owned()))
    .collect();
    vars.push(("EDGEAUTH_DATABASE_URL".into(), dir.db_url()));
    for (k, v) in extra {
        vars.push((format!("EDGEAUTH_{k}"), (*v).to_owned()));
    }
    vars
}

/// A state over a migrated store in `dir`.
pub async fn state(dir: &TempDir, extra: &[(&str, &str)], clock: Arc<ManualClock>) -> AppState {
    state_and_store(dir, extra, clock).await.0
}

/// A state over a migrated store in `dir`, and that store.
pub async fn state_and_store(
    dir: &TempDir,
    extra: &[(&str, &str)],
    clock: Arc<ManualClock>,
) -> (AppState, AnyStore) {
    let config = Config::from_sources(settings(dir, extra), None).unwrap();
    let store = open(&config).await;
    let master = config.resolve_master_key().unwrap();
    let state = AppState::new(config, store.shared(), clock, master)
        .await
        .unwrap();
    (state, store)
}

/// A running server.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// The store under the state (tests may close it).
    pub store: AnyStore,
    /// Kept so the database outlives the server.
    pub _dir: TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    pub fn cookie(&self, name: &str) -> String {
        self.cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", self.cookies()))
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            .to_owned()
    }

    /// Asserts a problem+json error with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        if status == 401 {
            assert!(
                self.header("www-authenticate").starts_with("Bearer "),
                "401 without WWW-Authenticate: Bearer"
            );
        }
    }
}

impl Server {
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        Self::start_in(dir, extra).await
    }

    pub async fn start_in(dir: TempDir, extra: &[(&str, &str)]) -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let (state, store) = state_and_store(&dir, extra, Arc::clone(&clock)).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            clock,
            state,
            store,
            _dir: dir,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Resp {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path).bearer_auth(token))
            .await
    }

    pub async fn register(&self, email: &str) -> Resp {
        let r = self
            .post_json(
                "/auth/register",
                json!({"email": email, "password": PASSWORD, "name": "Test User"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r
    }

    pub async fn login(&self, email: &str) -> Resp {
        let r = self
            .post_json("/auth/token", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// A login from a page of the allowed origin, as a browser sends it:
    /// only such a login gets cookies.
    pub async fn browser_login(&self, email: &str) -> Resp {
        let r = self
            .send(
                self.request(Method::POST, "/auth/token")
                    .header("origin", ORIGIN)
                    .json(&json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// A refresh with the token in the body, from the allowed origin.
    pub async fn browser_refresh(&self, token: &str) -> Resp {
        self.send(
            self.request(Method::POST, "/auth/refresh")
                .header("origin", ORIGIN)
                .json(&json!({ "refresh_token": token })),
        )
        .await
    }

    /// Registers and signs in; the login response.
    pub async fn signed_in(&self, email: &str) -> Resp {
        self.register(email).await;
        self.login(email).await
    }

    pub async fn refresh(&self, token: &str) -> Resp {
        self.post_json("/auth/refresh", json!({ "refresh_token": token }))
            .await
    }

    pub async fn jwks(&self) -> Resp {
        self.send(self.request(Method::GET, "/.well-known/jwks.json"))
            .await
    }
}

/// The `kid`s of a JWKS document, in order.
pub fn kids(jwks: &Value) -> Vec<&str> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect()
}

/// Verifies an access token with an independent JOSE implementation
/// (jsonwebtoken) against the server's JWKS; returns the claims.
pub fn verify_independently(jwks: &Value, token: &str, now: u64) -> Value {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set.find(&header.kid.unwrap()).expect("kid in the JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    // Time is checked below against the test's clock, not the wall clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Value>(token, &key, &validation).unwrap().claims;
    let exp = claims["exp"].as_u64().unwrap();
    assert!(claims["iat"].as_u64().unwrap() <= now && now < exp);
    claims
}
