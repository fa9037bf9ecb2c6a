//! The metrics listener of the real `edgeauth serve`: counters move by
//! exactly the number of events, random paths add no series, no email, id,
//! token or address is ever a label, and the public port never serves
//! `/metrics`.

use std::collections::BTreeMap;

use serde_json::json;

use crate::{binary::post, serving::Served, support::PASSWORD};

/// One scrape's series (name and labels, as written) and values.
pub(crate) type Scrape = BTreeMap<String, f64>;

pub(crate) async fn scrape_text(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

pub(crate) async fn scrape(url: &str) -> Scrape {
    parse(&scrape_text(url).await)
}

fn parse(text: &str) -> Scrape {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// A series' value; 0 when it is not there yet.
pub(crate) fn value(scrape: &Scrape, series: &str) -> f64 {
    scrape.get(series).copied().unwrap_or(0.0)
}

/// How much each of `series` moved from `before` to `after`.
fn moved<'a>(before: &Scrape, after: &Scrape, series: &[&'a str]) -> Vec<(&'a str, f64)> {
    series
        .iter()
        .map(|s| (*s, value(after, s) - value(before, s)))
        .collect()
}

#[tokio::test]
async fn counters_move_by_exactly_the_number_of_events() {
    let server =
        Served::start(&[("METRICS_BIND", "127.0.0.1:0"), ("LOGIN_MAX_FAILURES", "3")]).await;
    let metrics = server.metrics.clone().unwrap();
    let base = server.base.as_str();
    let client = reqwest::Client::new();

    // The public port has no /metrics.
    let public = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let before = scrape(&metrics).await;
    let owner = "owner@example.com";
    let locked = "locked@example.com";
    let mut secrets = vec![owner.to_owned(), locked.to_owned(), PASSWORD.to_owned()];
    for email in [owner, locked] {
        let (status, body) = post(
            base,
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 201);
        secrets.push(body["user"]["id"].as_str().unwrap().to_owned());
    }
    // 2 sign-ins, 3 wrong passwords, then 1 throttled.
    let mut refresh_tokens = Vec::new();
    for _ in 0..2 {
        let (status, body) = post(
            base,
            "/auth/token",
            json!({"email": owner, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 200);
        refresh_tokens.push(body["refresh_token"].as_str().unwrap().to_owned());
        secrets.push(body["access_token"].as_str().unwrap().to_owned());
        secrets.push(body["session_id"].as_str().unwrap().to_owned());
    }
    for expected in [401, 401, 401, 429] {
        let (status, _) = post(
            base,
            "/auth/token",
            json!({"email": locked, "password": "not the password at all"}),
        )
        .await;
        assert_eq!(status, expected);
    }
    // Refreshes: t0 rotated, t0 again in the grace window, t1 rotated,
    // t0 once more (a reuse), and an unknown token.
    let refresh = |token: String| post(base, "/auth/refresh", json!({ "refresh_token": token }));
    let t0 = refresh_tokens[0].clone();
    let (status, first) = refresh(t0.clone()).await;
    assert_eq!(status, 200);
    let t1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, replay) = refresh(t0.clone()).await;
    assert_eq!(
        (status, replay["refresh_token"].as_str()),
        (200, Some(&*t1))
    );
    let (status, second) = refresh(t1.clone()).await;
    assert_eq!(status, 200);
    secrets.extend([t1, second["refresh_token"].as_str().unwrap().to_owned()]);
    assert_eq!(refresh(t0).await.0, 401);
    assert_eq!(refresh("A".repeat(43)).await.0, 401);
    secrets.extend(refresh_tokens);

    let after = scrape(&metrics).await;
    let token_200 =
        "edgeauth_http_requests_total{route=\"/auth/token\",method=\"POST\",status=\"200\"}";
    let token_401 =
        "edgeauth_http_requests_total{route=\"/auth/token\",method=\"POST\",status=\"401\"}";
    let token_429 =
        "edgeauth_http_requests_total{route=\"/auth/token\",method=\"POST\",status=\"429\"}";
    let series = [
        "edgeauth_logins_total{outcome=\"success\"}",
        "edgeauth_logins_total{outcome=\"invalid_credentials\"}",
        "edgeauth_logins_total{outcome=\"throttled\"}",
        "edgeauth_throttled_total{limit=\"login\"}",
        "edgeauth_refreshes_total{outcome=\"rotated\"}",
        "edgeauth_refreshes_total{outcome=\"grace_replay\"}",
        "edgeauth_refreshes_total{outcome=\"reused\"}",
        "edgeauth_refreshes_total{outcome=\"invalid\"}",
        token_200,
        token_401,
        token_429,
        "edgeauth_http_requests_total{route=\"/auth/register\",method=\"POST\",status=\"201\"}",
        "edgeauth_http_requests_total{route=\"/auth/refresh\",method=\"POST\",status=\"200\"}",
        "edgeauth_http_requests_total{route=\"/auth/refresh\",method=\"POST\",status=\"401\"}",
        "edgeauth_http_request_duration_seconds_count{route=\"/auth/token\"}",
        // Every registration and sign-in took one argon2 slot.
        "edgeauth_password_hash_queue_wait_seconds_count",
    ];
    assert_eq!(
        moved(&before, &after, &series),
        series
            .iter()
            .copied()
            .zip([
                2.0, 3.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 2.0, 6.0, 8.0
            ])
            .collect::<Vec<_>>()
    );
    // The gauges read at scrape time.
    assert!(after.contains_key("edgeauth_db_pool_connections{state=\"idle\"}"));
    assert!(after.contains_key("edgeauth_db_pool_connections{state=\"in_use\"}"));
    assert!(value(&after, "edgeauth_signing_key_age_seconds") >= 0.0);
    assert!(after.contains_key("edgeauth_signing_key_age_seconds"));

    // No email, id, token, password or address in the scrape.
    let text = scrape_text(&metrics).await;
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} is in the scrape");
    }
    assert!(!text.contains("127.0.0.1"));
}

#[tokio::test]
async fn a_thousand_random_paths_add_no_series() {
    let server = Served::start(&[("METRICS_BIND", "127.0.0.1:0")]).await;
    let metrics = server.metrics.clone().unwrap();
    let client = reqwest::Client::new();
    // One unmatched request first, so its series exist.
    let status = |r: reqwest::Response| r.status().as_u16();
    let first = client
        .get(format!("{}/warm-up", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(status(first), 404);
    let before = scrape(&metrics).await;
    let mut paths = Vec::new();
    for i in 0..1000u32 {
        let path = format!("/random-{:08x}/{i}", i.wrapping_mul(2_654_435_761));
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(status(response), 404);
        paths.push(path);
    }
    let after = scrape(&metrics).await;
    let unmatched =
        "edgeauth_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}";
    assert_eq!(value(&after, unmatched) - value(&before, unmatched), 1000.0);
    let new: Vec<_> = after
        .keys()
        .filter(|series| !before.contains_key(*series))
        .collect();
    assert!(new.is_empty(), "new series: {new:?}");
    let text = scrape_text(&metrics).await;
    assert!(!text.contains("random-"));
}
