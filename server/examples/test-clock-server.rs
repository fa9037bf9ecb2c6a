//! The real app (`edgeauth_server::app`) on a manual clock, for browser
//! tests that need an access token to expire without waiting for it
//! (pkg/client's Chromium tests). Never for real users.
//!
//! Configured like `edgeauth serve` (the `EDGEAUTH_*` environment; it
//! migrates the database itself); the clock starts at the wall-clock time.
//! It prints `edgeauth listening on http://ADDR` once it accepts requests,
//! then reads commands on stdin, one a line, and answers each on stdout:
//!
//! - `advance N`: moves the clock forward by N seconds; answers `now T`.
//!
//! It stops when stdin closes.

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core,
    clippy::print_stdout,
    reason = "a std test harness that talks on stdout"
)]

use std::{
    io::{BufRead as _, Write as _},
    sync::Arc,
};

use edgeauth_server::{AppState, Clock, Config, ManualClock, SystemClock, app, connect_store};

type Result<T> = core::result::Result<T, Box<dyn core::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::from_env(None)?;
    let store = connect_store(
        &config.database.url,
        config.database.sqlite_synchronous,
        config.database.pool_size,
    )
    .await?;
    store.shared().migrate().await?;
    let master = config.resolve_master_key()?;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let bind = config.server.bind;
    let state = AppState::new(
        config,
        store.shared(),
        Arc::clone(&clock) as Arc<dyn Clock>,
        master,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!("edgeauth listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let control = Arc::clone(&clock);
    std::thread::spawn(move || {
        for line in std::io::stdin()
            .lock()
            .lines()
            .map_while(core::result::Result::ok)
        {
            let mut words = line.split_whitespace();
            match (words.next(), words.next().map(str::parse::<u64>)) {
                (Some("advance"), Some(Ok(seconds))) => {
                    control.advance(seconds);
                    println!("now {}", control.now());
                }
                _ => println!("error: unknown command {line:?}"),
            }
            let _ = std::io::stdout().flush();
        }
        std::process::exit(0);
    });
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
