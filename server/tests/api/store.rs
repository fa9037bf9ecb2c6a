//! The storage conformance story: what every backend must do, one function
//! run against SQLite and against PostgreSQL.

use std::sync::Arc;

use edgeauth_server::{
    AuditEvent, MailOutcome, NewMail, NewMailToken, NewSession, PgStore, RotateOutcome, Rotation,
    Spent, SqliteStore, Store, StoreError, StoredKey, Synchronous, TokenEffect, User,
};

use crate::support::{T0, TempDir, postgres_url};

fn session(id: &str, user: &str, at: u64, hash: u8) -> NewSession {
    NewSession {
        id: id.into(),
        user_id: user.into(),
        created_at: at,
        expires_at: at + 100,
        absolute_expires_at: at + 1000,
        user_agent: None,
        amr: vec!["pwd".into()],
        tid: None,
        token_hash: [hash; 32],
        audit: None,
    }
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        name: None,
        password_hash: "$argon2id$...".into(),
        created_at: T0,
        disabled_at: None,
        email_verified_at: None,
    }
}

fn key(kid: &str, at: u64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        public_key: vec![1; 32],
        sealed_seed: vec![2; 57],
        created_at: at,
        activates_at: at,
        retired_at: None,
    }
}

/// The conformance suite, for any backend.
async fn conformance(store: Arc<dyn Store>) {
    sequential(&*store).await;
    mail(Arc::clone(&store)).await;
    concurrent(store).await;
}

fn queued(id: &str, user: Option<&str>, to: &str) -> NewMail {
    NewMail {
        id: id.into(),
        kind: "reset".into(),
        user_id: user.map(str::to_owned),
        recipient: to.into(),
        new_email: None,
        created_at: T0,
    }
}

/// The outbox and the links: claims are leased and exclusive, only the
/// lease holder finishes a row, a retry waits, a link is spent once.
async fn mail(store: Arc<dyn Store>) {
    store
        .create_user(&user("m1", "mail@example.com"))
        .await
        .unwrap();
    let mails: Vec<NewMail> = (0..20)
        .map(|i| queued(&format!("q{i:02}"), None, "mail@example.com"))
        .collect();
    store.queue_mail(&mails).await.unwrap();
    // Eight claimers at once: every row goes to exactly one of them.
    let claims: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .claim_mail(&format!("o{i}"), T0, T0 + 60, 5)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for claim in claims {
        claimed.extend(claim.await.unwrap().into_iter().map(|m| (m.id, m.attempts)));
    }
    claimed.sort();
    let ids: Vec<&str> = claimed.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..20).map(|i| format!("q{i:02}")).collect();
    assert_eq!(ids, want, "a row claimed twice or not at all");
    assert!(claimed.iter().all(|(_, attempts)| *attempts == 1));
    // Leased: nobody else gets them before the lease ends.
    assert!(
        store
            .claim_mail("late", T0 + 59, T0 + 120, 50)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the holder finishes a row; whoever took it after the lease did.
    let holder = store
        .claim_mail("late", T0 + 60, T0 + 120, 1)
        .await
        .unwrap();
    let first = &holder[0];
    assert_eq!(first.attempts, 2);
    let stale = ["o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"];
    for owner in stale {
        assert!(
            !store
                .finish_mail(&first.id, owner, T0 + 61, &MailOutcome::Sent)
                .await
                .unwrap()
        );
    }
    let retry = MailOutcome::Retry {
        at: T0 + 200,
        error: "smtp transient error".into(),
    };
    assert!(
        store
            .finish_mail(&first.id, "late", T0 + 61, &retry)
            .await
            .unwrap()
    );
    // The others, free again since their lease ended; the retried one
    // only once it is due.
    let others = store.claim_mail("x", T0 + 199, T0 + 260, 50).await.unwrap();
    assert_eq!(others.len(), 19);
    assert!(others.iter().all(|m| m.id != first.id));
    let again = store.claim_mail("x", T0 + 200, T0 + 260, 50).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempts),
        (first.id.as_str(), 3)
    );
    for m in others.iter().chain(&again) {
        assert!(
            store
                .finish_mail(&m.id, "x", T0 + 201, &MailOutcome::Sent)
                .await
                .unwrap()
        );
        assert!(
            !store
                .finish_mail(&m.id, "x", T0 + 202, &MailOutcome::Sent)
                .await
                .unwrap(),
            "finished twice"
        );
    }
    assert!(
        store
            .claim_mail("y", T0 + 10_000, T0 + 10_060, 50)
            .await
            .unwrap()
            .is_empty()
    );

    // A link, spent once, for its purpose only, and replaced on a retry.
    let token = |hash: u8| NewMailToken {
        hash: [hash; 32],
        purpose: "verify",
        user_id: "m1".into(),
        email: "mail@example.com".into(),
        outbox_id: "q00".into(),
        created_at: T0,
        expires_at: T0 + 100,
    };
    store.issue_mail_token(&token(1)).await.unwrap();
    store.issue_mail_token(&token(2)).await.unwrap();
    assert_eq!(
        store.mail_token(&[1; 32]).await.unwrap(),
        None,
        "the earlier attempt's link stays"
    );
    let spend = |purpose: &'static str, at: u64| {
        let store = Arc::clone(&store);
        async move {
            store
                .spend_mail_token(&[2; 32], purpose, at, TokenEffect::Verify, None)
                .await
                .unwrap()
        }
    };
    assert_eq!(spend("reset", T0 + 1).await, Spent::Invalid);
    assert_eq!(spend("verify", T0 + 100).await, Spent::Expired);
    assert_eq!(store.email_verified_at("m1").await.unwrap(), None);
    let spends: Vec<_> = (0..8)
        .map(|_| tokio::spawn(spend("verify", T0 + 2)))
        .collect();
    let mut done = 0;
    for s in spends {
        match s.await.unwrap() {
            Spent::Done { user_id, .. } => {
                assert_eq!(user_id, "m1");
                done += 1;
            }
            other => assert_eq!(other, Spent::Invalid),
        }
    }
    assert_eq!(done, 1, "a link was spent twice");
    assert_eq!(store.email_verified_at("m1").await.unwrap(), Some(T0 + 2));
    // Deleting the user takes its links and pending mail with it.
    store
        .queue_mail(&[queued("q99", Some("m1"), "mail@example.com")])
        .await
        .unwrap();
    let deleted = AuditEvent {
        id: "e-deleted".into(),
        at: T0 + 3,
        kind: "user.deleted".into(),
        actor: "m1".into(),
        target: Some("m1".into()),
        ip: None,
        user_agent: None,
        request_id: None,
        detail: "{}".into(),
    };
    store.delete_user("m1", T0 + 3, &deleted).await.unwrap();
    assert_eq!(store.mail_token(&[2; 32]).await.unwrap(), None);
    assert!(
        store
            .claim_mail("z", T0 + 20_000, T0 + 20_060, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.purge_mail(T0 + 20_000).await.unwrap() >= 20);
}

/// What races must not break: one rotation wins, the session limit holds.
async fn concurrent(store: Arc<dyn Store>) {
    store
        .create_user(&user("u9", "race@example.com"))
        .await
        .unwrap();
    // 16 sign-ins at once with a limit of 3: exactly 3 stay live.
    let logins: Vec<_> = (0..16u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let new = session(&format!("r{i}"), "u9", T0 + 20, 100 + i);
                store.create_session(&new, 3).await.unwrap()
            })
        })
        .collect();
    let mut evicted = 0;
    for login in logins {
        evicted += login.await.unwrap().len();
    }
    let live = store.user_sessions("u9", T0 + 21).await.unwrap();
    assert_eq!((live.len(), evicted), (3, 13), "the session limit broke");
    // 8 rotations of one token at once: one wins, the others write nothing.
    let parent = [100 + live[0].id[1..].parse::<u8>().unwrap(); 32];
    let rotations: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let rotation = Rotation {
                    parent_hash: parent,
                    child_hash: [200 + i; 32],
                    now: T0 + 22,
                    expires_at: T0 + 122,
                    max_recent: u64::MAX,
                    recent_since: 0,
                };
                store.rotate_refresh(&rotation).await.unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    for (i, rotation) in rotations.into_iter().enumerate() {
        if let RotateOutcome::Rotated(..) = rotation.await.unwrap() {
            won.push(i);
        }
    }
    assert_eq!(won.len(), 1, "two live successors");
    for i in 0..8u8 {
        let child = store.refresh_token(&[200 + i; 32]).await.unwrap();
        assert_eq!(child.is_some(), won == [usize::from(i)]);
    }
    // 20 failed sign-ins at once all count.
    let failures: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.record_login_failure(&[9; 32], T0, 60).await })
        })
        .collect();
    for failure in failures {
        failure.await.unwrap().unwrap();
    }
    assert_eq!(
        store.login_failures(&[9; 32]).await.unwrap(),
        Some((20, T0))
    );
    // 150 families rotated at once (a backend may take queued rotations
    // together): every rotation lands, on its own family.
    let hash = |family: u8, generation: u8| {
        let mut hash = [0xF0; 32];
        hash[..2].copy_from_slice(&[family, generation]);
        hash
    };
    for family in 0..150u8 {
        let new = NewSession {
            token_hash: hash(family, 0),
            ..session(&format!("m{family}"), "u9", T0 + 30, 0)
        };
        store.create_session(&new, 1000).await.unwrap();
    }
    let rotations: Vec<_> = (0..150u8)
        .map(|family| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let rotation = Rotation {
                    parent_hash: hash(family, 0),
                    child_hash: hash(family, 1),
                    now: T0 + 31,
                    expires_at: T0 + 131,
                    max_recent: u64::MAX,
                    recent_since: 0,
                };
                store.rotate_refresh(&rotation).await.unwrap()
            })
        })
        .collect();
    for (family, rotation) in (0..150u8).zip(rotations) {
        let RotateOutcome::Rotated(session, _) = rotation.await.unwrap() else {
            panic!("family {family} was not rotated");
        };
        assert_eq!(session.id, format!("m{family}"));
        let child = store
            .refresh_token(&hash(family, 1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((child.session.id, child.generation), (session.id, 1));
        let parent = store
            .refresh_token(&hash(family, 0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parent.used_at, Some(T0 + 31));
    }
}

async fn sequential(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent

    let first = user("u1", "a@example.com");
    store.create_user(&first).await.unwrap();
    let dup = User {
        id: "u2".into(),
        ..first.clone()
    };
    assert!(matches!(
        store.create_user(&dup).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store
            .user_by_email("a@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        "u1"
    );
    assert_eq!(store.user_by_id("u1").await.unwrap(), Some(first.clone()));
    assert!(store.user_by_id("nope").await.unwrap().is_none());

    // Keys: the first insert is conditional; a scheduled key retires the
    // current one at its activation, atomically, and only one may wait.
    assert!(store.insert_first_key(&key("k1", T0)).await.unwrap());
    assert!(!store.insert_first_key(&key("k2", T0)).await.unwrap());
    let ahead = StoredKey {
        activates_at: T0 + 100,
        ..key("k3", T0 + 1)
    };
    assert!(store.schedule_key(&ahead, T0 + 1, None).await.unwrap());
    let again = StoredKey {
        activates_at: T0 + 101,
        ..key("k4", T0 + 2)
    };
    assert!(
        !store.schedule_key(&again, T0 + 2, None).await.unwrap(),
        "one waits at a time"
    );
    let keys = store.signing_keys().await.unwrap();
    let shown: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.activates_at, k.retired_at))
        .collect();
    assert_eq!(shown, [("k3", T0 + 100, None), ("k1", T0, Some(T0 + 100))]);
    // Once it signs, the next rotation may be scheduled.
    assert!(store.schedule_key(&again, T0 + 100, None).await.unwrap());
    // At once: the current and the waiting key go; retired ones stay.
    store
        .replace_keys_now(&key("k5", T0 + 102), T0 + 102, None)
        .await
        .unwrap();
    let kids: Vec<_> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.retired_at))
        .collect();
    assert_eq!(
        kids,
        [
            ("k5".to_owned(), None),
            ("k3".to_owned(), Some(T0 + 101)),
            ("k1".to_owned(), Some(T0 + 100))
        ]
    );

    // Sessions and rotation by conditional update.
    assert!(
        store
            .create_session(&session("s1", "u1", T0, 1), 2)
            .await
            .unwrap()
            .is_empty()
    );
    let (found, owner) = store.session_with_user("s1").await.unwrap().unwrap();
    assert_eq!(
        (found.user_id.as_str(), owner.email.as_str()),
        ("u1", "a@example.com")
    );
    assert!(store.session_with_user("nope").await.unwrap().is_none());
    assert_eq!((found.amr, found.tid), (vec!["pwd".to_owned()], None));
    let rotation = Rotation {
        parent_hash: [1; 32],
        child_hash: [2; 32],
        now: T0 + 5,
        expires_at: T0 + 105,
        max_recent: u64::MAX,
        recent_since: 0,
    };
    let RotateOutcome::Rotated(slid, roles) = store.rotate_refresh(&rotation).await.unwrap() else {
        panic!("not rotated")
    };
    assert_eq!((slid.id.as_str(), slid.expires_at), ("s1", T0 + 105));
    assert!(roles.is_empty());
    assert_eq!(
        store.rotate_refresh(&rotation).await.unwrap(),
        RotateOutcome::NotRotated
    );
    let unknown = Rotation {
        parent_hash: [9; 32],
        ..rotation.clone()
    };
    assert_eq!(
        store.rotate_refresh(&unknown).await.unwrap(),
        RotateOutcome::NotRotated
    );
    let parent = store.refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(parent.used_at, Some(T0 + 5));
    let child = store.refresh_token(&[2; 32]).await.unwrap().unwrap();
    assert_eq!((child.generation, child.used_at), (1, None));
    assert_eq!(
        (child.session.last_used_at, child.session.expires_at),
        (T0 + 5, T0 + 105)
    );
    // Sliding never passes the absolute lifetime; the user's roles come along.
    assert!(store.grant_role("u1", "beta").await.unwrap());
    assert!(store.grant_role("u1", "admin").await.unwrap());
    let capped = Rotation {
        parent_hash: [2; 32],
        child_hash: [6; 32],
        now: T0 + 6,
        expires_at: T0 + 5000,
        max_recent: u64::MAX,
        recent_since: 0,
    };
    let RotateOutcome::Rotated(capped, roles) = store.rotate_refresh(&capped).await.unwrap() else {
        panic!("not rotated")
    };
    assert_eq!(capped.expires_at, T0 + 1000);
    assert_eq!(roles, ["admin", "beta"]);
    assert_eq!((capped.amr, capped.tid), (vec!["pwd".to_owned()], None));
    assert_eq!(
        store
            .refresh_token(&[6; 32])
            .await
            .unwrap()
            .unwrap()
            .generation,
        2
    );

    // Eviction keeps at most max live sessions, least recently used first.
    store
        .create_session(&session("s2", "u1", T0 + 6, 3), 2)
        .await
        .unwrap();
    let evicted = store
        .create_session(&session("s3", "u1", T0 + 7, 4), 2)
        .await
        .unwrap();
    assert_eq!(evicted, ["s1"]);
    let live: Vec<String> = store
        .user_sessions("u1", T0 + 8)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, ["s3", "s2"]);

    // How the user authenticated is kept as given, in order, and comes back
    // on every read: by id, from a rotation, in the user's list, with a
    // refresh token.
    let methods = vec!["pwd".to_owned(), "otp".to_owned(), "x,y \"z\"".to_owned()];
    let with_amr = NewSession {
        amr: methods.clone(),
        tid: Some("t1".into()),
        ..session("s4", "u4", T0, 10)
    };
    let named = User {
        name: Some("Dee".into()),
        ..user("u4", "d@example.com")
    };
    store.create_user(&named).await.unwrap();
    assert_eq!(store.user_by_id("u4").await.unwrap(), Some(named));
    store.create_session(&with_amr, 2).await.unwrap();
    let expected = (methods, Some("t1".to_owned()));
    let (found, _) = store.session_with_user("s4").await.unwrap().unwrap();
    assert_eq!((found.amr, found.tid), expected);
    let found = store.refresh_token(&[10; 32]).await.unwrap().unwrap();
    assert_eq!((found.session.amr, found.session.tid), expected);
    let RotateOutcome::Rotated(slid, _) = store
        .rotate_refresh(&Rotation {
            parent_hash: [10; 32],
            child_hash: [11; 32],
            now: T0 + 1,
            expires_at: T0 + 101,
            max_recent: u64::MAX,
            recent_since: 0,
        })
        .await
        .unwrap()
    else {
        panic!("not rotated")
    };
    assert_eq!((slid.amr, slid.tid), expected);
    let listed = store.user_sessions("u4", T0 + 2).await.unwrap();
    let amrs: Vec<_> = listed.into_iter().map(|s| (s.amr, s.tid)).collect();
    assert_eq!(amrs, [expected]);
    let none = NewSession {
        amr: Vec::new(),
        ..session("s5", "u4", T0, 12)
    };
    store.create_session(&none, 2).await.unwrap();
    let (found, _) = store.session_with_user("s5").await.unwrap().unwrap();
    assert_eq!((found.amr, found.tid), (Vec::<String>::new(), None));

    // A revoked session cannot rotate.
    let gone = Rotation {
        parent_hash: [3; 32],
        child_hash: [5; 32],
        ..rotation
    };
    assert!(
        store
            .revoke_session("s2", Some("u1"), T0 + 9)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session("s2", Some("u1"), T0 + 9)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session("s3", Some("someone-else"), T0 + 9)
            .await
            .unwrap()
    );
    assert_eq!(
        store.rotate_refresh(&gone).await.unwrap(),
        RotateOutcome::NotRotated
    );
    assert!(store.refresh_token(&[5; 32]).await.unwrap().is_none());
    assert_eq!(
        store
            .refresh_token(&[3; 32])
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None,
        "a refused rotation must leave no trace"
    );

    // The rotation cap: a session that already got `max_recent` tokens
    // after `recent_since` (its sign-in's included) rotates nothing; the
    // window moves on.
    store
        .create_session(&session("c1", "u4", T0 + 30, 40), 100)
        .await
        .unwrap();
    let at_cap = Rotation {
        parent_hash: [40; 32],
        child_hash: [41; 32],
        now: T0 + 31,
        expires_at: T0 + 131,
        max_recent: 1,
        recent_since: T0,
    };
    assert_eq!(
        store.rotate_refresh(&at_cap).await.unwrap(),
        RotateOutcome::NotRotated
    );
    assert_eq!(
        store
            .refresh_token(&[40; 32])
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None,
        "a capped rotation must leave no trace"
    );
    let under = Rotation {
        max_recent: 2,
        ..at_cap.clone()
    };
    assert!(matches!(
        store.rotate_refresh(&under).await.unwrap(),
        RotateOutcome::Rotated(..)
    ));
    let moved_on = Rotation {
        parent_hash: [41; 32],
        child_hash: [42; 32],
        now: T0 + 100,
        max_recent: 1,
        recent_since: T0 + 31,
        ..at_cap
    };
    assert!(matches!(
        store.rotate_refresh(&moved_on).await.unwrap(),
        RotateOutcome::Rotated(..)
    ));

    // The purge: sessions that ended (revoked, or expired) before the bound
    // go with their refresh tokens, in batches; live ones stay.
    store
        .create_user(&user("u7", "p@example.com"))
        .await
        .unwrap();
    for (id, at, hash) in [("p1", T0 + 10, 50), ("p2", T0 + 5000, 51), ("p3", T0, 52)] {
        store
            .create_session(&session(id, "u7", at, hash), 100)
            .await
            .unwrap();
    }
    assert!(store.revoke_session("p1", None, T0 + 20).await.unwrap());
    assert!(store.purge_sessions(T0 + 50, 1).await.unwrap() <= 1);
    while store.purge_sessions(T0 + 50, 1).await.unwrap() > 0 {}
    assert!(store.refresh_token(&[50; 32]).await.unwrap().is_none());
    assert!(store.session_with_user("p1").await.unwrap().is_none());
    for kept in ["p2", "p3"] {
        assert!(
            store.session_with_user(kept).await.unwrap().is_some(),
            "{kept}"
        );
    }
    store.purge_sessions(T0 + 2000, 1000).await.unwrap();
    assert!(store.session_with_user("p3").await.unwrap().is_none());
    assert!(store.refresh_token(&[52; 32]).await.unwrap().is_none());
    assert!(store.refresh_token(&[51; 32]).await.unwrap().is_some());

    // Failed sign-ins: counted per window, a new window once it ended,
    // ended windows forgotten as failures come in, cleared on request.
    let (k, other) = ([7; 32], [8; 32]);
    assert_eq!(store.login_failures(&k).await.unwrap(), None);
    store.record_login_failure(&k, T0, 60).await.unwrap();
    store.record_login_failure(&k, T0 + 59, 60).await.unwrap();
    assert_eq!(store.login_failures(&k).await.unwrap(), Some((2, T0)));
    store.record_login_failure(&k, T0 + 60, 60).await.unwrap();
    assert_eq!(store.login_failures(&k).await.unwrap(), Some((1, T0 + 60)));
    store
        .record_login_failure(&other, T0 + 61, 60)
        .await
        .unwrap();
    store.record_login_failure(&k, T0 + 121, 60).await.unwrap();
    assert_eq!(store.login_failures(&other).await.unwrap(), None);
    store.clear_login_failures(&k).await.unwrap();
    assert_eq!(store.login_failures(&k).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_conforms() {
    let dir = TempDir::sqlite();
    let store = SqliteStore::connect(&dir.db_url(), Synchronous::Normal)
        .await
        .unwrap();
    conformance(Arc::new(store.clone())).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(admin) = postgres_url() else { return };
    let db = TempDir::postgres(&admin);
    let store = PgStore::connect(&db.db_url(), 8).await.unwrap();
    conformance(Arc::new(store.clone())).await;
    store.close().await;
}

/// A database as migration 2 left it, with a session signed in then: the
/// shipped migrations 1 and 2 of `backend`, their bookkeeping rows, a user
/// and a session.
fn schema_2_with_a_session(backend: &str) -> String {
    let migration = |name: &str| {
        let path = format!("{}/migrations/{backend}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    };
    format!(
        "{}\n{}\n\
         CREATE TABLE _edgeauth_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
           applied_at BIGINT NOT NULL);\n\
         INSERT INTO _edgeauth_migrations VALUES (1, 'initial', 0), (2, 'login_failures', 0);\n\
         INSERT INTO users (id, email, name, password_hash, created_at) \
           VALUES ('u0', 'old@example.com', NULL, '$argon2id$...', 0);\n\
         INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, \
           absolute_expires_at, revoked_at, user_agent) \
           VALUES ('s0', 'u0', 0, 0, 100, 1000, NULL, NULL);\n",
        migration("0001_initial.sql"),
        migration("0002_login_failures.sql"),
    )
}

/// Migration 3 on a database that has sessions: they were all password
/// sign-ins, and read so.
async fn upgraded_sessions_read_as_password(store: &dyn Store) {
    store.migrate().await.unwrap();
    let (old, _) = store.session_with_user("s0").await.unwrap().unwrap();
    assert_eq!((old.amr, old.tid), (vec!["pwd".to_owned()], None));
}

#[tokio::test]
async fn sqlite_upgrade_keeps_sessions() {
    use sqlx::Connection as _;
    let dir = TempDir::sqlite();
    let url = format!("{}?mode=rwc", dir.db_url());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema_2_with_a_session("sqlite")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = SqliteStore::connect(&dir.db_url(), Synchronous::Normal)
        .await
        .unwrap();
    upgraded_sessions_read_as_password(&store).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_upgrade_keeps_sessions() {
    use sqlx::Connection as _;
    let Some(admin) = postgres_url() else { return };
    let db = TempDir::postgres(&admin);
    let mut conn = sqlx::PgConnection::connect(&db.db_url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema_2_with_a_session("postgres")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = PgStore::connect(&db.db_url(), 2).await.unwrap();
    upgraded_sessions_read_as_password(&store).await;
    store.close().await;
}
