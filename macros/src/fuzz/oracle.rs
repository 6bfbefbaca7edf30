//! What must hold for any input: the judgement of one run of the pipeline.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use zerodown_runtime::plan::{Migration, Step, StepKind, Transaction};

use crate::ctxt::Ctxt;
use crate::{check, lower, parse};

/// The outcome of a sound run.
pub(super) enum Verdict {
    /// A module with the plan was generated.
    Accepted,
    /// Compile errors (this many), each spanned on the input.
    Rejected(usize),
}

/// A span's position in `proc_macro2`'s source map (`lo..hi`), from its `Debug` form
/// `bytes(lo..hi)` (the `span-locations` feature is on in tests). `Span::call_site()` is `0..0`.
fn position(span: Span) -> (u32, u32) {
    let text = format!("{span:?}");
    let inner = text
        .strip_prefix("bytes(")
        .and_then(|t| t.strip_suffix(')'));
    let parsed = inner
        .and_then(|r| r.split_once(".."))
        .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)));
    parsed.unwrap_or_else(|| {
        panic!("unexpected span format `{text}`; is proc-macro2's `span-locations` on?")
    })
}

const CALL_SITE: (u32, u32) = (0, 0);

/// Every span a token of `tokens` carries (groups: whole, open and close).
fn spans(tokens: &TokenStream, out: &mut HashSet<(u32, u32)>) {
    for tt in tokens.clone() {
        out.insert(position(tt.span()));
        if let TokenTree::Group(g) = &tt {
            out.insert(position(g.span_open()));
            out.insert(position(g.span_close()));
            spans(&g.stream(), out);
        }
    }
}

/// One `compile_error!` of the output: where its error starts and ends, and its message.
pub(super) struct CompileError {
    pub(super) start: Span,
    pub(super) end: Span,
    pub(super) message: String,
}

/// The `::core::compile_error! { "message" }` invocations at the top level of `output` (where
/// `syn::Error::into_compile_error` puts them): the path carries the error's start span, the braces
/// its end span.
pub(super) fn compile_errors(output: &TokenStream) -> Result<Vec<CompileError>, String> {
    let tokens: Vec<TokenTree> = output.clone().into_iter().collect();
    let mut found = Vec::new();
    for (i, tt) in tokens.iter().enumerate() {
        let TokenTree::Ident(ident) = tt else {
            continue;
        };
        if ident != "compile_error" {
            continue;
        }
        let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(body))) =
            (tokens.get(i + 1), tokens.get(i + 2))
        else {
            return Err(format!(
                "malformed compile_error! invocation in the output: {output}"
            ));
        };
        if bang.as_char() != '!' {
            return Err(format!(
                "malformed compile_error! invocation in the output: {output}"
            ));
        }
        let message = syn::parse2::<syn::LitStr>(body.stream())
            .map_err(|e| format!("compile_error! without a string message ({e}): {output}"))?
            .value();
        found.push(CompileError {
            start: ident.span(),
            end: body.span(),
            message,
        });
    }
    Ok(found)
}

/// Judges one run: `output` is what `expand::migration(input)` returned.
pub(super) fn judge(input: &TokenStream, output: TokenStream) -> Result<Verdict, String> {
    syn::parse2::<syn::File>(output.clone())
        .map_err(|e| format!("the output is not valid Rust items ({e}): {output}"))?;
    let errors = compile_errors(&output)?;
    if errors.is_empty() {
        let plan = lower_again(input)?;
        check_plan(&plan)?;
        if !output.to_string().contains("MIGRATION") {
            return Err(format!("accepted without generating `MIGRATION`: {output}"));
        }
        return Ok(Verdict::Accepted);
    }

    let mut known = HashSet::new();
    spans(input, &mut known);
    for e in &errors {
        let msg = &e.message;
        for (which, span) in [("start", e.start), ("end", e.end)] {
            let at = position(span);
            if at == CALL_SITE && !input.is_empty() {
                return Err(format!(
                    "error `{msg}` has a call-site {which} span, not one of the input's tokens"
                ));
            }
            if at != CALL_SITE && !known.contains(&at) {
                return Err(format!(
                    "error `{msg}` {which}s at {at:?}, which is no token of the input"
                ));
            }
        }
        if msg.is_empty() {
            return Err("an empty error message".to_owned());
        }
        if msg.starts_with(|c: char| c.is_ascii_uppercase()) || msg.ends_with('.') {
            return Err(format!(
                "error message `{msg}` breaks the style (lowercase start, no trailing period)"
            ));
        }
    }
    Ok(Verdict::Rejected(errors.len()))
}

/// The plan of an accepted input, built as `expand::migration` builds it.
fn lower_again(input: &TokenStream) -> Result<Migration, String> {
    let cx = Ctxt::new();
    let parsed = parse::parse_migration(&cx, input.clone());
    let settings = parsed
        .as_ref()
        .map(|i| parse::resolve_settings(&cx, &i.settings));
    if let (Some(i), Some(s)) = (&parsed, &settings) {
        if !cx.has_errors() {
            check::check(&cx, i, s);
        }
    }
    match (cx.check(), parsed, settings) {
        (Ok(()), Some(i), Some(s)) => Ok(lower::lower(&i, s)),
        (Err(e), _, _) => Err(format!(
            "the pipeline reported no error the first time but `{e}` the second"
        )),
        _ => Err("accepted without a module header".to_owned()),
    }
}

/// The checks `Migrator::new` makes (runtime `migrator.rs::check_step` and the checksum): a plan the
/// macro generates must never be refused by the runtime. Plus: no NUL byte and no empty statement
/// in the SQL, which PostgreSQL cannot take.
fn check_plan(m: &Migration) -> Result<(), String> {
    if m.checksum != m.compute_checksum() {
        return Err("the generated checksum does not match the plan".to_owned());
    }
    for (phase, steps) in [
        ("expand", m.expand.steps),
        ("contract", m.contract.steps),
        ("rollback", m.rollback.steps),
    ] {
        for (i, step) in steps.iter().enumerate() {
            check_step(step)
                .map_err(|e| format!("{phase} step {i} `{}`: {e}", step.description))?;
        }
    }
    Ok(())
}

fn check_step(step: &Step) -> Result<(), String> {
    // Backfills and phased steps derive their SQL at run time.
    let derived = matches!(step.kind, StepKind::Backfill(_) | StepKind::Phased(_));
    if step.statements.is_empty() && !derived {
        return Err("no statements".into());
    }
    if step.transaction == Transaction::Alone && step.statements.len() > 1 && !derived {
        return Err(format!(
            "runs alone with {} statements",
            step.statements.len()
        ));
    }
    if let StepKind::Backfill(b) = step.kind {
        if !step.statements.is_empty() || b.batch_size == 0 || b.table.is_empty() {
            return Err(format!(
                "an invalid backfill: {b:?} with statements {:?}",
                step.statements
            ));
        }
    }
    if matches!(step.kind, StepKind::ConcurrentIndex { .. })
        && step.transaction != Transaction::Alone
    {
        return Err("a concurrent index build inside a transaction".into());
    }
    let max = i32::MAX as u64;
    let (lock, statement) = (step.lock_timeout_ms, step.statement_timeout_ms);
    if lock == 0 || statement == 0 || lock > max || statement > max || lock >= statement {
        return Err(format!("timeouts lock {lock} ms, statement {statement} ms"));
    }
    for sql in step.statements {
        if sql.contains('\0') {
            return Err(format!("NUL byte in SQL {sql:?}"));
        }
        if sql
            .trim_matches(|c: char| c.is_whitespace() || c == ';')
            .is_empty()
        {
            return Err("an empty statement".into());
        }
    }
    Ok(())
}
