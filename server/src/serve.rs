//! The connection loop: HTTP/1.1 on hyper, with the deadlines and the cap
//! that keep slow or idle clients from taking the server down
//! ([`ConnectionSettings`]).
//!
//! Each connection is in one of three phases, and its driver closes it
//! when the phase's deadline passes:
//!
//! - **head**: from the connection's start, or from the first byte of the
//!   next request, until the request's headers are in: `HEADER_TIMEOUT`;
//! - **busy**: the app has the request; the body and request deadlines of
//!   the app's own layer apply (`http::deadlines`), none here;
//! - **idle**: the answer is out (or on its way) and no new request has
//!   begun: `IDLE_TIMEOUT` since the last byte written.
//!
//! hyper's own header timer is not used: it also runs while a kept-alive
//! connection waits, so it would make the idle bound the header bound.
//! Past `MAX_CONNECTIONS`, a new connection is closed as soon as it is
//! accepted, so the listener never stops accepting and an idle-socket flood
//! only costs the sockets it holds until their head deadline.

use core::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use std::{io, net::SocketAddr, sync::Arc};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    time::Instant,
};
use tower::ServiceExt as _;

use crate::{config::ConnectionSettings, metrics};

/// Descriptors left free under the open-file limit for everything that is
/// not a client connection: database connections, listeners, files.
const RESERVED_DESCRIPTORS: usize = 64;

/// The largest request head (larger ones get 431 from hyper) and read
/// buffer of a connection: far above what this API's requests need (a few
/// cookies and headers), far below hyper's default buffer of about
/// 400 KiB, which `MAX_CONNECTIONS` slow clients could each fill.
const READ_BUFFER: usize = 64 * 1024;

/// Tells every serve loop to stop: accepting ends, open connections finish
/// their current request and close.
pub(crate) type Stop = watch::Receiver<bool>;

/// A [`Stop`] that fires when `signal` completes.
pub(crate) fn stop_on(signal: impl Future<Output = ()> + Send + 'static) -> Stop {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = tx.send(true);
    });
    rx
}

/// Serves `app` on `listener` until `stop` fires, then waits for the open
/// connections to finish. `name` labels the connection metrics.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ConnectionSettings,
    max_connections: usize,
    name: &'static str,
    mut stop: Stop,
) {
    let cap = under_open_file_limit(max_connections, open_file_limit());
    if cap < max_connections {
        tracing::info!(
            listener = name,
            configured = max_connections,
            cap,
            "connection cap lowered to stay under the open-file limit"
        );
    }
    let slots = Arc::new(Semaphore::new(cap));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        let _ = stream.set_nodelay(true);
                        let app = app.clone();
                        tokio::spawn(connection(stream, peer, app, settings, name, stop.clone(), slot));
                    }
                    Err(_) => {
                        metrics::connection_refused(name);
                        drop(stream);
                    }
                },
                Err(e) => {
                    // Out of descriptors or similar: back off a little
                    // instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    // Every connection holds a slot until it closes.
    let _ = slots
        .acquire_many(u32::try_from(cap).unwrap_or(u32::MAX))
        .await;
}

/// Where a connection is; see the module documentation.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request's headers, since then.
    Head(Instant),
    /// The app has a request.
    Busy,
    /// Answered, no new request yet; last byte written then.
    Idle(Instant),
}

impl Phase {
    fn deadline(self, settings: &ConnectionSettings) -> Option<(Instant, &'static str)> {
        let ms = Duration::from_millis;
        match self {
            Self::Head(since) => Some((since + ms(settings.header_timeout_ms), "header timeout")),
            Self::Busy => None,
            Self::Idle(since) => Some((since + ms(settings.idle_timeout_ms), "idle timeout")),
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    settings: ConnectionSettings,
    name: &'static str,
    mut stop: Stop,
    slot: OwnedSemaphorePermit,
) {
    let _open = metrics::OpenConnection::new(name, slot);
    let phase = Arc::new(watch::Sender::new(Phase::Head(Instant::now())));
    let mut phases = phase.subscribe();
    let io = TokioIo::new(Tracked {
        stream,
        phase: Arc::clone(&phase),
    });
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        phase.send_replace(Phase::Busy);
        let answer = app.clone().oneshot(request);
        let phase = Arc::clone(&phase);
        async move {
            let response = answer.await;
            phase.send_replace(Phase::Idle(Instant::now()));
            response
        }
    });
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .max_header_size(READ_BUFFER)
        .max_buf_size(READ_BUFFER)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow_and_update();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = phases.borrow_and_update().deadline(&settings);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(listener = name, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = phases.changed() => {}
            reason = expiry(deadline) => {
                tracing::debug!(listener = name, reason, "connection closed");
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Completes at the deadline with its reason; never without one.
async fn expiry(deadline: Option<(Instant, &'static str)>) -> &'static str {
    match deadline {
        Some((at, reason)) => {
            tokio::time::sleep_until(at).await;
            reason
        }
        None => core::future::pending().await,
    }
}

/// The socket, telling the connection's driver when a new request begins
/// (a byte read while idle) and when an answer makes progress (a byte
/// written while idle).
struct Tracked {
    stream: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
}

impl Tracked {
    fn saw_bytes(&self, reading: bool) {
        self.phase.send_if_modified(|phase| match phase {
            Phase::Idle(_) => {
                let now = Instant::now();
                *phase = if reading {
                    Phase::Head(now)
                } else {
                    Phase::Idle(now)
                };
                true
            }
            _ => false,
        });
    }

    /// Passes a write's result on, noting the progress.
    fn wrote(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.saw_bytes(false);
        }
        polled
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.saw_bytes(true);
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The process's soft limit on open files, where the system tells it
/// (Linux's `/proc/self/limits`); `None` when unknown or unlimited.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_file_limit(&limits)
}

fn soft_open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The connection cap: the configured one, lowered to leave
/// [`RESERVED_DESCRIPTORS`] free under the open-file limit (at least 1).
fn under_open_file_limit(configured: usize, limit: Option<usize>) -> usize {
    match limit {
        Some(limit) => configured.min(limit.saturating_sub(RESERVED_DESCRIPTORS).max(1)),
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_free() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 1048576              files     \n";
        assert_eq!(soft_open_file_limit(limits), Some(1024));
        assert_eq!(
            soft_open_file_limit("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(under_open_file_limit(1024, Some(1024)), 960);
        assert_eq!(under_open_file_limit(100, Some(1024)), 100);
        assert_eq!(under_open_file_limit(1024, Some(64)), 1);
        assert_eq!(under_open_file_limit(1024, None), 1024);
    }
}
