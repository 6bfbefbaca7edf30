//! Hostile input: random and mutated token streams through the whole `migration!` pipeline
//! ([`expand::migration`](crate::expand::migration)), checking that
//!
//! - nothing panics (a panic in a proc macro is an unspanned "proc macro panicked");
//! - every `compile_error!` points at the user's tokens: never `Span::call_site()` when the input has
//!   tokens, and always inside the input;
//! - every message follows the house style (lowercase start, no trailing period);
//! - the output is always valid Rust items (the fallback stub after errors, the module otherwise);
//! - an accepted input lowers to a plan the runtime accepts (`Migrator::new`'s checks, mirrored in
//!   [`oracle`]), with no NUL byte in its SQL.
//!
//! The corpus is every `migration! { .. }` in the workspace's tests (ui pass and fail cases,
//! `tests/*.rs`), read at run time so new cases join automatically; [`mutate`] deletes, duplicates,
//! swaps, replaces, inserts, nests, unwraps and truncates tokens at any depth, and splices tokens from
//! other corpus entries.
//!
//! Bounded and seeded: by default 15 s (`ZERODOWN_FUZZ_SECS`) or `ZERODOWN_FUZZ_ITERATIONS`
//! iterations, seed `ZERODOWN_FUZZ_SEED` (default fixed), starting at `ZERODOWN_FUZZ_START`. Iteration
//! `i` depends only on the seed and `i`, so a failure reported as "seed S, iteration I" replays with
//! `ZERODOWN_FUZZ_SEED=S ZERODOWN_FUZZ_START=I ZERODOWN_FUZZ_ITERATIONS=1`. The count of iterations run
//! is printed (`cargo test -p zerodown-macros fuzz -- --nocapture`).

mod corpus;
mod edges;
mod mutate;
mod oracle;
mod rng;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use proc_macro2::TokenStream;

use self::oracle::Verdict;
use self::rng::Rng;

/// The seed used when `ZERODOWN_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x7a65_726f_646f_776e; // "zerodown"

/// The time budget when neither `ZERODOWN_FUZZ_SECS` nor `ZERODOWN_FUZZ_ITERATIONS` is set.
const DEFAULT_SECS: u64 = 15;

/// Failures reported before the run stops: one is enough to fail, a few help to see a pattern.
const MAX_FAILURES: usize = 5;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}=`{value}`: {e}")))
}

/// Runs the whole pipeline on `tokens`, turning a panic into an error message.
fn run_pipeline(tokens: TokenStream) -> Result<TokenStream, String> {
    panic::catch_unwind(AssertUnwindSafe(|| crate::expand::migration(tokens))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
    })
}

/// Summary of a run, printed at the end.
#[derive(Debug, Default)]
struct Tally {
    iterations: u64,
    accepted: u64,
    rejected: u64,
    errors: u64,
}

#[test]
fn mutated_inputs_never_panic_and_every_error_is_spanned() {
    let seed = env_u64("ZERODOWN_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let start = env_u64("ZERODOWN_FUZZ_START").unwrap_or(0);
    let limit = env_u64("ZERODOWN_FUZZ_ITERATIONS");
    let budget = Duration::from_secs(env_u64("ZERODOWN_FUZZ_SECS").unwrap_or(if limit.is_some() {
        u64::MAX / 4
    } else {
        DEFAULT_SECS
    }));

    let corpus = corpus::load();
    assert!(
        corpus.entries.len() >= 50,
        "the corpus is suspiciously small: {} entries",
        corpus.entries.len()
    );

    // Panics are caught and reported with their input; the default hook would print each one again.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));

    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut i = start;
    while limit.map_or(true, |n| i < start + n)
        && started.elapsed() < budget
        && failures.len() < MAX_FAILURES
    {
        let mut rng = Rng::for_iteration(seed, i);
        let input = mutate::input(&mut rng, &corpus);
        let text = input.to_string();
        match run_pipeline(input.clone()) {
            Err(panic) => failures.push(format!("iteration {i}: panicked: {panic}\ninput: {text}")),
            Ok(output) => match oracle::judge(&input, output) {
                Ok(Verdict::Accepted) => tally.accepted += 1,
                Ok(Verdict::Rejected(n)) => {
                    tally.rejected += 1;
                    tally.errors += n as u64;
                }
                Err(problem) => failures.push(format!("iteration {i}: {problem}\ninput: {text}")),
            },
        }
        tally.iterations += 1;
        i += 1;
    }
    panic::set_hook(previous_hook);

    eprintln!(
        "fuzz: {} iterations from {start} (seed {seed:#x}) in {:.1} s over {} corpus entries: {} accepted, {} rejected \
         with {} errors",
        tally.iterations,
        started.elapsed().as_secs_f64(),
        corpus.entries.len(),
        tally.accepted,
        tally.rejected,
        tally.errors,
    );
    assert!(
        failures.is_empty(),
        "{} failure(s) (seed {seed:#x}; replay one with ZERODOWN_FUZZ_SEED={seed:#x} ZERODOWN_FUZZ_START=<i> \
         ZERODOWN_FUZZ_ITERATIONS=1):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // A fuzzer whose mutations are all rejected (or all accepted) tests little.
    assert!(
        tally.iterations < 100 || (tally.accepted > 0 && tally.rejected > 0),
        "{tally:?}"
    );
}

#[test]
fn every_corpus_entry_is_judged_sound_unmutated() {
    let corpus = corpus::load();
    let mut accepted = 0;
    for (n, entry) in corpus.entries.iter().enumerate() {
        let output = run_pipeline(entry.clone())
            .unwrap_or_else(|p| panic!("corpus entry {n} panicked: {p}"));
        match oracle::judge(entry, output) {
            Ok(Verdict::Accepted) => accepted += 1,
            Ok(Verdict::Rejected(_)) => {}
            Err(problem) => panic!("corpus entry {n}: {problem}\ninput: {entry}"),
        }
    }
    // The pass cases and the integration tests' migrations are accepted.
    assert!(accepted >= 20, "only {accepted} corpus entries accepted");
}

#[test]
fn hand_written_hostile_inputs() {
    for text in corpus::HOSTILE {
        let input: TokenStream = text
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` does not tokenize: {e}"));
        let output =
            run_pipeline(input.clone()).unwrap_or_else(|p| panic!("`{text}` panicked: {p}"));
        if let Err(problem) = oracle::judge(&input, output) {
            panic!("`{text}`: {problem}");
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Expressions nest through recursion in every pass; nesting far beyond any real migration must end
    // in a spanned error, on a test thread's ordinary 2 MiB stack (rustc gives proc macros more).
    let max = crate::parse::MAX_NESTING;
    let parens = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    let cases = [
        (parens(max - 1), true),
        (format!("{}1", "- ".repeat(max - 1)), true),
        (format!("{}true", "not ".repeat(max - 1)), true),
        (format!("f({})", parens(max - 2)), true),
        (parens(max), false),
        (parens(1000), false),
        (format!("{}1", "- ".repeat(100_000)), false),
        (format!("{}true", "not ".repeat(100_000)), false),
        (format!("{}1{}", "f(".repeat(1000), ")".repeat(1000)), false),
        (
            format!("{}1{}", "array[".repeat(1000), "]".repeat(1000)),
            false,
        ),
    ];
    for (expr, accepted) in cases {
        let text = format!("pub mod m0001_deep {{ create table t (a int default {expr}); }}");
        let input: TokenStream = text.parse().unwrap();
        let output =
            run_pipeline(input.clone()).unwrap_or_else(|p| panic!("{:.40}..: panicked: {p}", expr));
        match oracle::judge(&input, output.clone()) {
            Ok(Verdict::Accepted) if accepted => {}
            Ok(Verdict::Rejected(1)) if !accepted => {
                assert!(
                    output
                        .to_string()
                        .contains(&format!("expression nested more than {max} levels deep")),
                    "{output}"
                )
            }
            other => panic!(
                "{:.40}..: {:?}: {output}",
                expr,
                other.map(|v| matches!(v, Verdict::Accepted))
            ),
        }
    }
}
