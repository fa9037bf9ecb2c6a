//! Arbitrary input never panics and never verifies.

use edgeauth_core::{KeyRefreshPolicy, KeySet, RoutePolicy, Verifier, access_token};
use proptest::prelude::*;

use crate::support::{token_case, token_verifier, vector_file};

fn fixture() -> &'static (Verifier, String, u64) {
    static FIXTURE: std::sync::OnceLock<(Verifier, String, u64)> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(load)
}

fn load() -> (Verifier, String, u64) {
    let tokens = vector_file("tokens.json");
    let case = token_case(&tokens, "valid");
    (
        token_verifier(&tokens),
        case["token"].as_str().unwrap().to_owned(),
        case["now"].as_u64().unwrap(),
    )
}

/// One edit to a token: replace, insert or delete bytes at a position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    FlipBit(usize, u8),
}

fn apply(token: &str, edits: &[Edit]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Edit::Replace(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(i, b) => bytes.insert(at(i, bytes.len() + 1), b),
            Edit::Delete(i, n) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Edit::FlipBit(i, bit) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] ^= 1 << (bit % 8);
            }
            _ => {}
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        Just(b'.'),
        Just(b'='),
        Just(b' '),
        Just(b'A'),
        Just(b'_'),
        Just(b'-'),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::FlipBit(i, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (verifier, _, now) = fixture();
        let now = *now;
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(verifier.verify(&text, now).is_err());
    }

    #[test]
    fn arbitrary_token_shaped_text_never_verifies(
        header in "[A-Za-z0-9_-]{0,80}", payload in "[A-Za-z0-9_-]{0,200}", sig in "[A-Za-z0-9_-]{0,90}",
    ) {
        let (verifier, _, now) = fixture();
        let now = *now;
        let token = format!("{header}.{payload}.{sig}");
        prop_assert!(verifier.verify(&token, now).is_err());
    }

    #[test]
    fn mutations_of_a_valid_token_never_verify(edits in proptest::collection::vec(edit(), 1..4)) {
        let (verifier, token, now) = fixture();
        let now = *now;
        let mutated = apply(token, &edits);
        prop_assume!(mutated != token.as_bytes());
        let text = String::from_utf8_lossy(&mutated);
        prop_assume!(text != token.as_str());
        prop_assert!(verifier.verify(&text, now).is_err(), "{text}");
    }

    #[test]
    fn arbitrary_documents_never_panic(text in "\\PC{0,200}") {
        let _ = KeySet::from_jwks(&text);
        let _ = RoutePolicy::from_json(&text);
    }

    #[test]
    fn arbitrary_paths_never_panic(method in "\\PC{0,8}", path in "[/%.a-zA-Z0-9?#\\\\]{0,40}") {
        let policy = RoutePolicy::from_json(r#"[{"path":"/a/*/**","public":true},{"path":"/**","require":{}}]"#).unwrap();
        let _ = policy.check(&method, &path, None);
    }

    #[test]
    fn a_canonical_path_is_its_own_canonical_form(
        path in "/[/%;.a-fA-F0-9 \\\\é~?]{0,30}", params in any::<bool>(),
    ) {
        let policy = RoutePolicy::from_json(r#"[{"path":"/a/*/**","public":true},{"path":"/**","require":{}}]"#)
            .unwrap()
            .with_allow_params(params);
        if let Ok(canonical) = policy.canonical_path(&path) {
            let again = policy.canonical_path(canonical.as_str());
            prop_assert_eq!(again.as_ref().map(|p| p.as_str()), Ok(canonical.as_str()));
            prop_assert_eq!(policy.route("GET", canonical.as_str()), policy.route("GET", &path));
            prop_assert!(canonical.as_str().bytes().all(|b| b.is_ascii_graphic()), "{}", canonical);
        }
    }

    #[test]
    fn any_cache_control_gives_a_bounded_lifetime(header in "[ ,=\"a-zA-Z0-9-]{0,60}|\\PC{0,60}") {
        let policy = KeyRefreshPolicy::DEFAULT;
        let ttl = policy.ttl_ms(Some(&header));
        prop_assert!((policy.min_ttl_ms..=policy.max_ttl_ms).contains(&ttl), "{header}: {ttl}");
    }

    #[test]
    fn an_extracted_token_is_part_of_a_header(
        authorization in proptest::option::of("\\PC{0,40}"), cookie in "\\PC{0,60}", name in "[a-z_]{1,8}",
    ) {
        if let Some((token, _)) = access_token(authorization.as_deref(), [cookie.as_str()], &name) {
            prop_assert!(!token.is_empty());
            let within = |h: &str| h.contains(token);
            prop_assert!(authorization.as_deref().is_some_and(within) || within(&cookie));
        }
    }
}
