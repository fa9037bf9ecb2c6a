#![no_main]
//! Route rules and request paths never panic.

libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str)| {
    let (rules, method, path) = input;
    if let Ok(policy) = edgeauth_core::RoutePolicy::from_json(rules) {
        let _ = policy.check(method, path, None);
    }
});
