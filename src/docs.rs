//! Guides and references: the Markdown pages of the repository's `docs/` folder, included here so
//! they are on docs.rs and their Rust examples are compiled (and run) as doctests.
//!
//! - [`dsl`]: every statement, setting and override `migration!` accepts;
//! - [`rules`]: every rule, what it catches, why it is dangerous, the safe form;
//! - [`deploying`]: deploying schema changes with expand/contract phases;
//! - [`pgbouncer`]: running migrations behind PgBouncer and other poolers;
//! - [`testing`]: a database with every migration applied in your tests, and tests of a migration;
//! - [`failures`]: when a migration fails: what stays live, fixing it, rolling it back;
//! - `cli` (feature `cli`): the `migrate` command line, its options, JSON output and exit codes
//!   (the API is on the page of `zerodown::cli`).

/// Cross-page links. The pages link to each other with reference-style labels such as
/// `[text][rules.md#index_not_concurrent]`, defined at the bottom of each page as plain relative
/// links for GitHub. These definitions come first on each rustdoc page, and the first definition of
/// a label wins, so here the same labels point at the rustdoc pages. `tests/docs.rs` checks that
/// every label a page uses is defined here.
macro_rules! links {
    () => {
        "[rules.md]: crate::docs::rules\n\
         [rules.md#index_not_concurrent]: crate::docs::rules#index_not_concurrent\n\
         [rules.md#unnamed_index]: crate::docs::rules#unnamed_index\n\
         [rules.md#drop_index_not_concurrent]: crate::docs::rules#drop_index_not_concurrent\n\
         [rules.md#reindex_not_concurrent]: crate::docs::rules#reindex_not_concurrent\n\
         [rules.md#adding-columns]: crate::docs::rules#adding-columns\n\
         [rules.md#set_not_null_scan]: crate::docs::rules#set_not_null_scan\n\
         [rules.md#refresh_not_concurrent]: crate::docs::rules#refresh_not_concurrent\n\
         [rules.md#exclusion_constraint]: crate::docs::rules#exclusion_constraint\n\
         [rules.md#alter_column_type]: crate::docs::rules#alter_column_type\n\
         [rules.md#breaking-changes]: crate::docs::rules#breaking-changes\n\
         [rules.md#fires_user_triggers]: crate::docs::rules#fires_user_triggers\n\
         [rules.md#unnamed_constraint]: crate::docs::rules#unnamed_constraint\n\
         [rules.md#new_enum_value_used]: crate::docs::rules#new_enum_value_used\n\
         [rules.md#drop_table]: crate::docs::rules#drop_table\n\
         [rules.md#raw_without_reason]: crate::docs::rules#raw_without_reason\n\
         [rules.md#raw-sql]: crate::docs::rules#raw-sql\n\
         [rules.md#raw_unparsed]: crate::docs::rules#raw_unparsed\n\
         [rules.md#raw_transaction_control]: crate::docs::rules#raw_transaction_control\n\
         [rules.md#maintenance-commands]: crate::docs::rules#maintenance-commands\n\
         [rules.md#backfill_volatile_without_where]: crate::docs::rules#backfill_volatile_without_where\n\
         [rules.md#backfill_without_key]: crate::docs::rules#backfill_without_key\n\
         [rules.md#attach_partition_scan]: crate::docs::rules#attach_partition_scan\n\
         [dsl.md]: crate::docs::dsl\n\
         [dsl.md#settings]: crate::docs::dsl#settings\n\
         [dsl.md#expand]: crate::docs::dsl#expand\n\
         [deploying.md]: crate::docs::deploying\n\
         [pgbouncer.md]: crate::docs::pgbouncer\n\
         [testing.md]: crate::docs::testing\n\
         [failures.md]: crate::docs::failures\n\n"
    };
}

#[doc = links!()]
#[doc = include_str!("../docs/dsl.md")]
pub mod dsl {}

#[doc = links!()]
#[doc = include_str!("../docs/rules.md")]
pub mod rules {}

#[doc = links!()]
#[doc = include_str!("../docs/deploying.md")]
pub mod deploying {}

#[doc = links!()]
#[doc = include_str!("../docs/pgbouncer.md")]
pub mod pgbouncer {}

#[doc = links!()]
#[doc = include_str!("../docs/testing.md")]
pub mod testing {}

#[doc = links!()]
#[doc = include_str!("../docs/failures.md")]
pub mod failures {}

#[cfg(feature = "cli")]
#[doc = links!()]
#[doc = include_str!("../docs/cli.md")]
pub mod cli {}
