//! The macro's pipeline and the code it generates.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use zerodown_runtime::plan::{
    Backfill, Change, ChosenName, ColumnChange, ColumnRef, Irreversible, Live, LockLevel,
    Migration, Pace, Phase, PhasedStep, Postcondition, Settings, Step, StepKind, TableRename,
    Transaction, Undo,
};

use crate::ast::MigrationInput;
use crate::ctxt::Ctxt;
use crate::{check, fallback, lower, parse};

/// `migration! { .. }`: parse, check, lower, generate. After errors, the `compile_error!`s are emitted
/// next to a stub module so no follow-on errors appear.
pub fn migration(tokens: TokenStream) -> TokenStream {
    one(tokens, None).tokens
}

/// What [`one`] made of a migration's tokens.
pub(crate) struct Expanded {
    /// The module (or the stub after errors) and the errors.
    pub tokens: TokenStream,
    /// The parsed input, when there was a module header to speak of.
    pub input: Option<MigrationInput>,
}

/// One migration through the pipeline; with `schema`, its statements are also checked against the
/// catalog of the migrations before it, and then applied to it (best effort, errors or not, so an
/// error here does not cascade into the migrations after it).
pub(crate) fn one(tokens: TokenStream, schema: Option<&mut crate::schema::Catalog>) -> Expanded {
    let cx = Ctxt::new();
    let Some(input) = parse::parse_migration(&cx, tokens) else {
        // Not even a module header: nothing to name in a stub.
        let tokens = cx
            .check()
            .err()
            .map(syn::Error::into_compile_error)
            .unwrap_or_default();
        return Expanded {
            tokens,
            input: None,
        };
    };
    let mut input = input;
    let settings = parse::resolve_settings(&cx, &input.settings);
    let parsed = !cx.has_errors();
    // The catalog first: it fills in what it knows (a column's current type) before the rules
    // judge the statements.
    let mut expected = Vec::new();
    if let Some(catalog) = schema {
        expected = crate::schema::expected_tables(catalog, &input);
        crate::schema::check_and_apply(&cx, catalog, &mut input);
    }
    if parsed {
        check::check(&cx, &input, &settings);
    }
    let tokens = match cx.check() {
        Ok(()) => {
            let mut migration = lower::lower(&input, settings);
            migration.expected_tables = lower::leak_slice(expected);
            module(&input, &migration)
        }
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(fallback::module(&input));
            out
        }
    };
    Expanded {
        tokens,
        input: Some(input),
    }
}

/// The generated module: the migration as a `static`, plus its identity as constants.
fn module(input: &MigrationInput, m: &Migration) -> TokenStream {
    let MigrationInput {
        attrs,
        vis,
        ident,
        doc,
        ..
    } = input;
    let doc_attr = (!doc.is_empty()).then(|| quote!(#[doc = #doc]));
    let migration = migration_literal(m);
    let version = m.version;
    let name = m.name;
    quote! {
        #doc_attr
        #(#attrs)*
        #vis mod #ident {
            /// This migration's plan, for `Migrator::new`.
            #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
            pub static MIGRATION: ::zerodown::__private::Migration = #migration;
            /// The ordering key, from the module name.
            pub const VERSION: u64 = #version;
            /// The module name without its version prefix.
            pub const NAME: &str = #name;
        }
    }
}

pub(crate) fn migration_literal(m: &Migration) -> TokenStream {
    let Migration {
        version,
        name,
        description,
        settings,
        expand,
        contract,
        rollback,
        undo,
        touches,
        chosen_names,
        expected_tables,
        checksum,
        legacy_checksums,
    } = m;
    let settings = settings_literal(settings);
    let expand = phase_literal(expand);
    let contract = phase_literal(contract);
    let rollback = phase_literal(rollback);
    let undo = undo_literal(undo);
    let bytes = checksum.0;
    let chosen_names = chosen_names.iter().map(|c| {
        let ChosenName { step, table, name } = c;
        quote! { ::zerodown::__private::ChosenName { step: #step, table: #table, name: #name } }
    });
    let expected_tables = expected_tables.iter().map(crate::schema::table_literal);
    let legacy_checksums = legacy_checksums.iter().map(|c| {
        let bytes = c.0;
        quote! { ::zerodown::__private::Checksum([#(#bytes),*]) }
    });
    quote! {
        ::zerodown::__private::Migration {
            version: #version,
            name: #name,
            description: #description,
            settings: #settings,
            expand: #expand,
            contract: #contract,
            rollback: #rollback,
            undo: #undo,
            touches: &[#(#touches),*],
            chosen_names: &[#(#chosen_names),*],
            expected_tables: &[#(#expected_tables),*],
            checksum: ::zerodown::__private::Checksum([#(#bytes),*]),
            legacy_checksums: &[#(#legacy_checksums),*],
        }
    }
}

pub(crate) fn settings_literal(s: &Settings) -> TokenStream {
    let Settings {
        lock_timeout_ms,
        statement_timeout_ms,
        online_lock_timeout_ms,
        long_statement_timeout_ms,
        retry_attempts,
        retry_budget_ms,
        backfill_batch_size,
        backfill_pause_ms,
        backfill_target_batch_ms,
        backfill_max_replica_lag_ms,
        backfill_busy_percent,
        backfill_batch_size_set,
        backfill_pause_set,
        target,
    } = s;
    let target = target.0;
    quote! {
        ::zerodown::__private::Settings {
            lock_timeout_ms: #lock_timeout_ms,
            statement_timeout_ms: #statement_timeout_ms,
            online_lock_timeout_ms: #online_lock_timeout_ms,
            long_statement_timeout_ms: #long_statement_timeout_ms,
            retry_attempts: #retry_attempts,
            retry_budget_ms: #retry_budget_ms,
            backfill_batch_size: #backfill_batch_size,
            backfill_pause_ms: #backfill_pause_ms,
            backfill_target_batch_ms: #backfill_target_batch_ms,
            backfill_max_replica_lag_ms: #backfill_max_replica_lag_ms,
            backfill_busy_percent: #backfill_busy_percent,
            backfill_batch_size_set: #backfill_batch_size_set,
            backfill_pause_set: #backfill_pause_set,
            target: ::zerodown::__private::PgVersion(#target),
        }
    }
}

fn phase_literal(p: &Phase) -> TokenStream {
    let steps = p.steps.iter().map(step_literal);
    quote!(::zerodown::__private::Phase { steps: &[#(#steps),*] })
}

fn undo_literal(u: &Undo) -> TokenStream {
    let Undo {
        steps,
        of,
        irreversible,
        live,
        derived,
    } = u;
    let steps = steps.iter().map(step_literal);
    let irreversible = irreversible.iter().map(|Irreversible { step, why }| {
        quote!(::zerodown::__private::Irreversible { step: #step, why: #why })
    });
    let live = live.iter().map(|Live { step, until, what }| {
        let until = match until {
            Some(u) => quote!(::core::option::Option::Some(#u)),
            None => quote!(::core::option::Option::None),
        };
        quote!(::zerodown::__private::Live { step: #step, until: #until, what: #what })
    });
    quote! {
        ::zerodown::__private::Undo {
            steps: &[#(#steps),*],
            of: &[#(#of),*],
            irreversible: &[#(#irreversible),*],
            live: &[#(#live),*],
            derived: #derived,
        }
    }
}

fn step_literal(s: &Step) -> TokenStream {
    let Step {
        description,
        statements,
        transaction,
        lock,
        tables,
        rewrites,
        lock_timeout_ms,
        statement_timeout_ms,
        kind,
        postcondition,
    } = s;
    let transaction = match transaction {
        Transaction::Transactional => quote!(Transactional),
        Transaction::Alone => quote!(Alone),
    };
    let lock = lock_literal(*lock);
    let kind = kind_literal(kind);
    let postcondition = postcondition_literal(postcondition);
    quote! {
        ::zerodown::__private::Step {
            description: #description,
            statements: &[#(#statements),*],
            transaction: ::zerodown::__private::Transaction::#transaction,
            lock: #lock,
            tables: &[#(#tables),*],
            rewrites: #rewrites,
            lock_timeout_ms: #lock_timeout_ms,
            statement_timeout_ms: #statement_timeout_ms,
            kind: #kind,
            postcondition: #postcondition,
        }
    }
}

/// `__raw_lock!(TARGET, "SQL")`: the inferred lock as a literal, or the reason none is inferred.
pub fn raw_lock(input: TokenStream) -> TokenStream {
    let parser = |input: syn::parse::ParseStream| {
        let target: syn::LitInt = input.parse()?;
        input.parse::<syn::Token![,]>()?;
        let sql: syn::LitStr = input.parse()?;
        Ok((target, sql))
    };
    let (target, sql) = match syn::parse::Parser::parse2(parser, input) {
        Ok(parsed) => parsed,
        Err(e) => return e.to_compile_error(),
    };
    let target = match target.base10_parse::<u32>() {
        Ok(t) => zerodown_runtime::plan::PgVersion(t),
        Err(e) => return e.to_compile_error(),
    };
    match crate::raw::inferred_lock(&sql.value(), target) {
        Ok(lock) => lock_literal(lock),
        Err(why) => syn::Error::new(sql.span(), why).to_compile_error(),
    }
}

fn lock_literal(lock: LockLevel) -> TokenStream {
    let variant = format_ident!("{}", format!("{lock:?}"));
    quote!(::zerodown::__private::LockLevel::#variant)
}

fn kind_literal(kind: &StepKind) -> TokenStream {
    match kind {
        StepKind::Sql => quote!(::zerodown::__private::StepKind::Sql),
        StepKind::ConcurrentIndex {
            schema,
            index,
            table,
            key_sql,
            unique,
        } => quote! {
            ::zerodown::__private::StepKind::ConcurrentIndex {
                schema: #schema, index: #index, table: #table, key_sql: #key_sql, unique: #unique,
            }
        },
        StepKind::Backfill(Backfill {
            table,
            key,
            set_sql,
            pending_sql,
            batch_size,
            pause_ms,
            columns,
            fire_user_triggers,
            pace:
                Pace {
                    target_batch_ms,
                    max_replica_lag_ms,
                    batch_size_set,
                    pause_set,
                    busy_percent,
                },
        }) => {
            quote! {
                ::zerodown::__private::StepKind::Backfill(::zerodown::__private::Backfill {
                    table: #table, key: &[#(#key),*], set_sql: #set_sql, pending_sql: #pending_sql,
                    batch_size: #batch_size, pause_ms: #pause_ms, columns: &[#(#columns),*],
                    fire_user_triggers: #fire_user_triggers,
                    pace: ::zerodown::__private::Pace {
                        target_batch_ms: #target_batch_ms, max_replica_lag_ms: #max_replica_lag_ms,
                        batch_size_set: #batch_size_set, pause_set: #pause_set,
                        busy_percent: #busy_percent,
                    },
                })
            }
        }
        StepKind::Phased(PhasedStep {
            change,
            action,
            preview,
        }) => {
            let change = change_literal(change);
            let action = format_ident!("{}", format!("{action:?}"));
            quote! {
                ::zerodown::__private::StepKind::Phased(::zerodown::__private::PhasedStep {
                    change: #change,
                    action: ::zerodown::__private::Action::#action,
                    preview: &[#(#preview),*],
                })
            }
        }
    }
}

fn change_literal(change: &Change) -> TokenStream {
    match change {
        Change::Column(ColumnChange {
            table,
            column,
            new_column,
            old_type,
            function,
            trigger,
            rename,
            deterministic,
        }) => quote! {
            ::zerodown::__private::Change::Column(::zerodown::__private::ColumnChange {
                table: #table, column: #column, new_column: #new_column, old_type: #old_type,
                function: #function, trigger: #trigger, rename: #rename, deterministic: #deterministic,
            })
        },
        Change::RenameTable(TableRename { table, new_table }) => quote! {
            ::zerodown::__private::Change::RenameTable(::zerodown::__private::TableRename {
                table: #table, new_table: #new_table,
            })
        },
        Change::DropColumn(ColumnRef { table, column }) => quote! {
            ::zerodown::__private::Change::DropColumn(::zerodown::__private::ColumnRef { table: #table, column: #column })
        },
    }
}

fn postcondition_literal(p: &Postcondition) -> TokenStream {
    match p {
        Postcondition::None => quote!(::zerodown::__private::Postcondition::None),
        Postcondition::IndexValid { schema, index } => {
            quote!(::zerodown::__private::Postcondition::IndexValid { schema: #schema, index: #index })
        }
        Postcondition::IndexAbsent { schema, index } => {
            quote!(::zerodown::__private::Postcondition::IndexAbsent { schema: #schema, index: #index })
        }
        Postcondition::ConstraintValidated { table, constraint } => quote! {
            ::zerodown::__private::Postcondition::ConstraintValidated { table: #table, constraint: #constraint }
        },
        Postcondition::Detached { parent, partition } => quote! {
            ::zerodown::__private::Postcondition::Detached { parent: #parent, partition: #partition }
        },
        Postcondition::BackfillComplete => {
            quote!(::zerodown::__private::Postcondition::BackfillComplete)
        }
    }
}
