//! A small cache of live sessions for the per-request liveness check.
//!
//! Every revocation this process makes (logout, session delete, reuse
//! detection, eviction) removes the entry at once, so a revoked session's
//! access tokens stop working here immediately. Only a revocation made by
//! another process sharing the database is seen late, at most
//! `SESSION_CACHE` seconds (0 disables the cache; do that when several
//! server instances share one database).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::store::User;

const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
struct Entry {
    user: Arc<User>,
    /// The session's expiry as read (it only ever slides later).
    expires_at: u64,
    fetched_at: u64,
}

#[derive(Debug)]
pub(crate) struct SessionCache {
    ttl: u64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SessionCache {
    pub(crate) fn new(ttl: u64) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        f(&mut self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The session's user if the session is known live at `now`.
    pub(crate) fn get(&self, session_id: &str, now: u64) -> Option<Arc<User>> {
        if self.ttl == 0 {
            return None;
        }
        self.with(|map| {
            map.get(session_id)
                .filter(|e| now < e.expires_at && now < e.fetched_at.saturating_add(self.ttl))
                .map(|e| Arc::clone(&e.user))
        })
    }

    /// Remembers a session read live from the store.
    pub(crate) fn put(&self, session_id: &str, user: Arc<User>, expires_at: u64, now: u64) {
        if self.ttl == 0 {
            return;
        }
        self.with(|map| {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                session_id.to_owned(),
                Entry {
                    user,
                    expires_at,
                    fetched_at: now,
                },
            );
        });
    }

    /// Forgets a session (it was revoked).
    pub(crate) fn forget(&self, session_id: &str) {
        self.with(|map| map.remove(session_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Arc<User> {
        Arc::new(User {
            id: "u".into(),
            email: "e@x.y".into(),
            name: None,
            password_hash: String::new(),
            created_at: 0,
            disabled_at: None,
            email_verified_at: None,
        })
    }

    #[test]
    fn entries_expire_and_are_forgotten() {
        let cache = SessionCache::new(30);
        cache.put("s", user(), 100, 50);
        assert!(cache.get("s", 79).is_some());
        assert!(cache.get("s", 80).is_none(), "older than the ttl");
        cache.put("s", user(), 100, 90);
        assert!(cache.get("s", 100).is_none(), "session expired");
        cache.put("s", user(), 200, 90);
        cache.forget("s");
        assert!(cache.get("s", 91).is_none());
        let off = SessionCache::new(0);
        off.put("s", user(), 200, 90);
        assert!(off.get("s", 91).is_none());
    }
}
