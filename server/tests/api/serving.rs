//! The real `edgeauth serve` against slow and greedy clients: sockets that
//! trickle their headers or body are cut off while a normal client is
//! served, connections past the cap are closed at once, every answer has an
//! `X-Request-Id`, JSON logs carry it and no secret, and SIGTERM drains.
//!
//! Deadlines are set small and every bound the tests wait on is many times
//! larger, so a slow machine only makes them slower, never wrong; nothing
//! here measures latency.

use std::{net::SocketAddr, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    process::Child,
};

use crate::{
    binary::{Running, TEST_ENV, serve},
    support::{PASSWORD, TempDir},
};

/// How long a test waits for something the server must do within a
/// second or two: generous, for noisy machines.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `edgeauth serve` on a fresh database, with its public
/// address.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) addr: SocketAddr,
    pub(crate) metrics: Option<String>,
    pub(crate) log: std::path::PathBuf,
    _dir: TempDir,
}

impl Served {
    /// Starts a server on a fresh database with the test settings and
    /// `extra`; ready once it says it listens (never a sleep).
    pub(crate) async fn start(extra: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let db = dir.db_url();
        let mut env = TEST_ENV.to_vec();
        env.push(("DATABASE_URL", &db));
        env.extend_from_slice(extra);
        let Running {
            child,
            base,
            log,
            metrics,
        } = serve(&dir, &env, "serve.log").await;
        let addr = base.strip_prefix("http://").unwrap().parse().unwrap();
        Self {
            child,
            base,
            addr,
            metrics,
            log,
            _dir: dir,
        }
    }

    pub(crate) async fn healthz(&self, client: &reqwest::Client) -> u16 {
        client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// SIGTERM, then the exit status and the whole log.
    async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().unwrap().to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server did not stop on SIGTERM")
            .unwrap();
        (status, std::fs::read_to_string(&self.log).unwrap())
    }
}

/// Reads until the server closes the connection (or resets it); what it
/// sent first. Fails the test if that takes longer than [`PATIENCE`].
async fn until_closed(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept a slow connection open");
    got
}

/// Sends `head` at once, then `trickle` one byte every 100 ms, until the
/// server closes the connection; returns what the server sent. The trickle
/// is long enough (20 s and more) to outlast every deadline under test many
/// times over.
async fn trickle(addr: SocketAddr, head: String, trickle: u8) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(&[trickle]).await.is_err() {
                break;
            }
        }
    });
    let got = until_closed(&mut reader).await;
    dripping.abort();
    got
}

#[tokio::test]
async fn trickled_headers_are_cut_off_while_a_normal_client_is_served() {
    let server = Served::start(&[("HEADER_TIMEOUT", "1s")]).await;
    let slow: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(trickle(
                server.addr,
                "GET /healthz HTTP/1.1\r\nHost: edgeauth\r\nX-Slow: ".into(),
                b'a',
            ))
        })
        .collect();
    // While the 20 trickle, a normal client is served.
    let client = reqwest::Client::new();
    for _ in 0..5 {
        assert_eq!(server.healthz(&client).await, 200);
    }
    for slow in slow {
        let got = slow.await.unwrap();
        // Closed without an answer to the unfinished request.
        assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
    assert_eq!(server.healthz(&reqwest::Client::new()).await, 200);
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_with_request_timeout() {
    let server = Served::start(&[("BODY_TIMEOUT", "1s")]).await;
    let slow = tokio::spawn(trickle(
        server.addr,
        "POST /auth/register HTTP/1.1\r\nHost: edgeauth\r\nContent-Type: application/json\r\n\
         Content-Length: 4000\r\n\r\n{\"email\": \""
            .into(),
        b'a',
    ));
    assert_eq!(server.healthz(&reqwest::Client::new()).await, 200);
    let got = String::from_utf8(slow.await.unwrap()).unwrap();
    assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
    assert!(got.contains("application/problem+json"), "{got}");
    assert!(got.contains("\"code\":\"request_timeout\""), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Served::start(&[("IDLE_TIMEOUT", "1s"), ("HEADER_TIMEOUT", "5m")]).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: edgeauth\r\n\r\n")
        .await
        .unwrap();
    // Answered, kept alive, then closed for idling: the header deadline
    // (5 minutes) is not what closes it.
    let got = String::from_utf8(until_closed(&mut stream).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
}

#[tokio::test]
async fn an_oversized_head_gets_431() {
    let server = Served::start(&[]).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: edgeauth\r\nX-Big: {}\r\n\r\n",
        "x".repeat(100 * 1024)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let got = String::from_utf8(until_closed(&mut stream).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 431 "), "{got}");
}

#[tokio::test]
async fn past_the_cap_new_connections_are_closed_and_open_ones_still_served() {
    let server = Served::start(&[
        ("MAX_CONNECTIONS", "3"),
        ("HEADER_TIMEOUT", "5m"),
        ("IDLE_TIMEOUT", "5m"),
        ("METRICS_BIND", "127.0.0.1:0"),
    ])
    .await;
    // One kept-alive client connection, then two idle sockets: the cap.
    let client = reqwest::Client::new();
    assert_eq!(server.healthz(&client).await, 200);
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Connections are accepted in order, each taking its slot as it is
    // accepted: the fourth finds none and is closed without an answer.
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: edgeauth\r\n\r\n")
        .await;
    assert!(until_closed(&mut fourth).await.is_empty());
    // The established connection is still served.
    assert_eq!(server.healthz(&client).await, 200);
    let scrape = crate::metrics::scrape(server.metrics.as_deref().unwrap()).await;
    assert_eq!(
        crate::metrics::value(
            &scrape,
            "edgeauth_http_connections_refused_total{listener=\"public\"}"
        ),
        1.0
    );
    assert_eq!(
        crate::metrics::value(&scrape, "edgeauth_http_connections{listener=\"public\"}"),
        3.0
    );
    drop(idle);
}

async fn request_id(client: &reqwest::Client, url: &str, given: Option<&str>) -> String {
    let mut request = client.get(url);
    if let Some(id) = given {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_json_logs_carry_it_without_secrets() {
    let server = Served::start(&[("LOG_FORMAT", "json"), ("LOG", "debug")]).await;
    let client = reqwest::Client::new();
    let health = format!("{}/healthz", server.base);
    let generated = request_id(&client, &health, None).await;
    assert_eq!(generated.len(), 36, "{generated}");
    assert_ne!(request_id(&client, &health, None).await, generated);
    assert_eq!(
        request_id(&client, &health, Some("edge-42.a_b")).await,
        "edge-42.a_b"
    );
    for malformed in ["has space", "semi;colon", &"x".repeat(129)] {
        let id = request_id(&client, &health, Some(malformed)).await;
        assert_ne!(id, malformed);
        assert_eq!(id.len(), 36);
    }
    let missing = format!("{}/no/such/path", server.base);
    assert_eq!(
        request_id(&client, &missing, Some("on-a-404")).await,
        "on-a-404"
    );

    // A sign-in and a refresh under known ids.
    let email = "json-logs@example.com";
    let post = |path: &str, id: &str, body: Value| {
        client
            .post(format!("{}{path}", server.base))
            .header("x-request-id", id)
            .json(&body)
            .send()
    };
    let registered = post(
        "/auth/register",
        "id-register",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(registered.status(), 201);
    let login: Value = post(
        "/auth/token",
        "id-login",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let refresh_token = login["refresh_token"].as_str().unwrap().to_owned();
    let access_token = login["access_token"].as_str().unwrap().to_owned();
    let rotated: Value = post(
        "/auth/refresh",
        "id-refresh",
        json!({ "refresh_token": refresh_token }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let next = rotated["refresh_token"].as_str().unwrap().to_owned();

    let (status, log) = server.terminate().await;
    assert!(status.success(), "{status}: {log}");
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for id in ["id-register", "id-login", "id-refresh", "on-a-404"] {
        let carrying: Vec<_> = lines
            .iter()
            .filter(|l| l["span"]["request_id"] == id)
            .collect();
        assert!(!carrying.is_empty(), "no log line carries {id}: {log}");
    }
    for secret in [PASSWORD, &refresh_token, &access_token, &next] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    // SIGTERM drained and stopped the server.
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "edgeauth stopped"),
        "{log}"
    );
}
