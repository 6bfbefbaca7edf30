//! The `migration!` macro's diagnostics and accepted forms, compiled with trybuild.
//!
//! `tests/ui/fail/<kind>/*.rs` must fail to compile with exactly the messages in the `.stderr` beside
//! each file (one case per rule and per settings/syntax error, plus a case with several errors at
//! once); `tests/ui/pass/*.rs` must compile and run. Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test compiletest` and review the diff: carets must sit under the
//! offending tokens.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
