//! The revocation feed (`GET /.well-known/revocations`): every session
//! revoked within the access-token lifetime plus a minute, signed with the
//! current key. Built from the database, so every instance sharing it
//! serves the same list; each instance keeps its signed body for the
//! feed's max-age, and builds it once however many requests arrive at the
//! same moment.

use std::sync::{Arc, Mutex};

use super::{AuthError, tokens::Keyring};
use crate::{
    secret::{b64, sha256},
    store::Store,
};

/// Seconds beyond the access TTL a revocation stays listed: the verifiers'
/// leeway (30 s) with room to spare.
const MARGIN: u64 = 60;

/// A signed feed, as served.
#[derive(Debug)]
pub(crate) struct Feed {
    /// The compact JWS.
    pub(crate) body: String,
    /// A strong validator of the body (quoted).
    pub(crate) etag: String,
    /// When it stops being served.
    pub(crate) until: u64,
}

/// The feed's lifetimes: `max_age` served, `ttl` acceptable, listing
/// revocations of the last `window` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedPolicy {
    pub(crate) max_age: u64,
    pub(crate) ttl: u64,
    pub(crate) window: u64,
}

impl FeedPolicy {
    pub(crate) fn new(max_age: u64, ttl: u64, access_ttl: u64) -> Self {
        Self {
            max_age,
            ttl,
            window: access_ttl + MARGIN,
        }
    }
}

/// This instance's current feed, rebuilt when its max-age has passed.
#[derive(Debug)]
pub(crate) struct RevocationFeed {
    policy: FeedPolicy,
    last: Mutex<Option<Arc<Feed>>>,
    building: tokio::sync::Mutex<()>,
}

impl RevocationFeed {
    pub(crate) fn new(policy: FeedPolicy) -> Self {
        Self {
            policy,
            last: Mutex::new(None),
            building: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, now: u64) -> Option<Arc<Feed>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|feed| now < feed.until)
            .cloned()
    }

    /// The feed to serve at `now`.
    pub(crate) async fn current(
        &self,
        store: &dyn Store,
        keys: &Keyring,
        now: u64,
    ) -> Result<Arc<Feed>, AuthError> {
        if let Some(feed) = self.cached(now) {
            return Ok(feed);
        }
        // One build at a time; whoever waited finds it built.
        let _building = self.building.lock().await;
        if let Some(feed) = self.cached(now) {
            return Ok(feed);
        }
        let sids = store
            .revoked_since(now.saturating_sub(self.policy.window))
            .await?;
        let body = keys.sign_revocations(now, now.saturating_add(self.policy.ttl), &sids);
        let feed = Arc::new(Feed {
            etag: format!("\"{}\"", b64(&sha256(body.as_bytes())[..16])),
            body,
            until: now.saturating_add(self.policy.max_age),
        });
        tracing::debug!(sessions = sids.len(), "revocation feed built");
        crate::metrics::revocation_feed(sids.len());
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&feed));
        Ok(feed)
    }
}
