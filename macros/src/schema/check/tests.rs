//! The catalog checks through `migrations!` on DSL text: which errors a set gets, and that a correct
//! set, a set with `extern` tables and a set after raw SQL get none. Spans are checked by the trybuild
//! cases in `tests/ui/fail/catalog/`.

use proc_macro2::{TokenStream, TokenTree};

/// The messages of the `compile_error!`s `migrations!` emits for `src`.
fn errors(src: &str) -> Vec<String> {
    let tokens: TokenStream = src.parse().expect("test input tokenizes");
    let mut out = Vec::new();
    collect(crate::collect::migrations(tokens), &mut out);
    out
}

fn collect(tokens: TokenStream, out: &mut Vec<String>) {
    let mut prev_compile_error = false;
    for tt in tokens {
        match &tt {
            TokenTree::Ident(i) => prev_compile_error = i == "compile_error",
            TokenTree::Group(g) if prev_compile_error => {
                let lit: syn::LitStr = syn::parse2(g.stream()).expect("a message");
                out.push(lit.value());
                prev_compile_error = false;
            }
            TokenTree::Group(g) => collect(g.stream(), out),
            TokenTree::Punct(_) => {}
            TokenTree::Literal(_) => prev_compile_error = false,
        }
    }
}

const BASE: &str = r#"
    pub mod m0001_base {
        create table users (id bigint generated always as identity primary key, email text, created_at timestamp);
        create table orders (id bigint primary key, user_id bigint references users (id), total numeric(10, 2));
        create type mood as enum ("happy", "sad");
        create index orders_user_idx on orders (user_id);
    }
"#;

fn with_base(next: &str) -> Vec<String> {
    errors(&format!("{BASE} pub mod m0002_next {{ {next} }}"))
}

#[test]
fn a_set_that_matches_its_schema_has_no_errors() {
    assert_eq!(
        with_base(
            r#"
            alter table users add column name text;
            create index concurrently users_email_idx on users (lower(email)) where email is not null;
            alter table orders alter column total type numeric(12, 2) from numeric(10, 2);
            backfill users set name = email where name is null;
            alter table orders add constraint orders_total_positive check (total > 0) not valid;
            alter table orders validate constraint orders_total_positive;
            alter type mood add value "bored" after "sad";
            drop index concurrently orders_user_idx;
            "#
        ),
        Vec::<String>::new()
    );
    // An expand migration, and the migration after it sees the renamed column.
    assert_eq!(
        errors(&format!(
            "{BASE} pub mod m0002_rename {{ expand alter table users rename column email to address; }}
             pub mod m0003_index {{ create index concurrently users_address_idx on users (address); }}"
        )),
        Vec::<String>::new()
    );
}

#[test]
fn unknown_names_are_errors_with_the_closest_known_one() {
    let e = with_base(
        r#"
        alter table user add column name text;
        create index concurrently users_email_idx on users (emial);
        backfill users set email = lower(emal);
        alter table orders validate constraint orders_totl_positive;
        drop index concurrently orders_usr_idx;
        alter type mood add value "bored" after "sadd";
        "#,
    );
    assert_eq!(
        e,
        [
            "no table `user` in the schema the earlier migrations build; did you mean `users`? (a table created outside these migrations is declared at the top of the set: `extern table user;`)",
            "table `users` has no column `emial`; did you mean `email`?",
            "table `users` has no column `emal`; did you mean `email`?",
            "table `orders` has no constraint `orders_totl_positive`",
            "no index `orders_usr_idx` in the schema the earlier migrations build; did you mean `orders_user_idx`?",
            "enum `mood` has no value \"sadd\"; did you mean `sad`?",
        ]
    );
}

#[test]
fn stated_types_and_duplicates_are_checked() {
    let e = with_base(
        r#"
        alter table orders alter column total type numeric(12, 2) from numeric(8, 2);
        alter table users add column email text;
        create table users (id int);
        alter table users rename column email to created_at;
        "#,
    );
    assert_eq!(
        e,
        [
            "`orders`.`total` is `numeric(10, 2)` in the schema the earlier migrations build, not `numeric(8, 2)`; write `from numeric(10, 2)`",
            "table `users` already has a column `email`",
            "table `users` already exists",
            "table `users` already has a column `created_at`",
        ]
    );
}

#[test]
fn foreign_keys_need_a_key_of_the_same_type() {
    let e = with_base(
        r#"
        create table notes (id bigint primary key, user_email text references users (email), order_id text references orders (id));
        "#,
    );
    assert_eq!(
        e,
        [
            "the referenced columns (email) of `users` carry no primary key or unique constraint, which a foreign key needs; add `unique (email)` to `users` first",
            "`order_id` is `text` but the column it references, `orders`.`id`, is `bigint`; a foreign key needs the same type (or two integer types)",
        ]
    );
    // Integers of other widths are fine.
    assert!(with_base(
        "create table notes (id bigint primary key, order_id int references orders (id));"
    )
    .is_empty());
}

#[test]
fn a_backfill_needs_a_key() {
    let e = errors(
        r#"
        pub mod m0001_bag { create table bag (item text, qty int); }
        pub mod m0002_fill { alter table bag add column note text; backfill bag set note = item; }
        pub mod m0003_keyed { backfill bag set note = item by (item); }
        "#,
    );
    assert_eq!(
        e,
        [
            "`bag` has no primary key and no unique index over NOT NULL columns, so the backfill has no key to walk its batches by; add a primary key first, or name a unique NOT NULL key with `by (..)`"
        ]
    );
}

#[test]
fn dropped_and_renamed_tables_say_where_they_went() {
    let e = with_base(
        r#"
        unsafe(reason = "nothing reads it", allow = [rename_table, drop_table]) {
            alter table orders rename to purchases;
            alter table orders add column note text;
            drop table purchases;
            alter table purchases add column note text;
        }
        "#,
    );
    assert_eq!(
        e,
        [
            "table `orders` was renamed to `purchases` by migration 2",
            "table `purchases` was dropped by migration 2",
        ]
    );
}

#[test]
fn misspelt_types_are_errors_and_extension_types_are_not() {
    let e = with_base("alter table users add column born dat; alter table users add column tag citext; alter table users add column m moood;");
    assert_eq!(
        e,
        [
            "unknown type `dat`; did you mean `date`?",
            "unknown type `moood`; did you mean `mood`?",
        ]
    );
}

#[test]
fn extern_tables_and_raw_sql_are_not_checked() {
    let e = errors(
        r#"
        extern table legacy, app.audit;
        pub mod m0001_a {
            alter table legacy add column note text;
            alter table app.audit alter column at set not null;
            alter table ledger add column note text;
        }
        pub mod m0002_b {
            raw(reason = "made by hand") "CREATE TABLE ledger (id bigint primary key)";
            alter table ledger add column memo text;
        }
        "#,
    );
    assert_eq!(
        e,
        ["no table `ledger` in the schema the earlier migrations build (a table created outside these migrations is declared at the top of the set: `extern table ledger;`)"]
    );
}

#[test]
fn an_error_in_one_migration_does_not_cascade() {
    // The first migration's bad type does not stop `users` from existing for the second.
    let e = errors(
        r#"
        pub mod m0001_users { create table users (id bigint primary key, born dat); }
        pub mod m0002_index { create index concurrently users_born_idx on users (born); }
        "#,
    );
    assert_eq!(e, ["unknown type `dat`; did you mean `date`?"]);
}

#[test]
fn versions_must_increase_and_be_unique() {
    let e = errors(
        r#"
        pub mod m0001_a { create table a (id int); }
        pub mod m0003_b { create table b (id int); }
        pub mod m0002_c { create table c (id int); }
        pub mod m0003_d { create table d (id int); }
        "#,
    );
    assert_eq!(
        e,
        [
            "`m0002_c` (version 2) comes after `m0003_b` (version 3): the set lists migrations in version order, the order they run in; move `m0002_c` before `m0003_b`, or renumber it after the newest migration if it is new",
            "`m0002_c` (version 2) comes after `m0003_b` (version 3): the set lists migrations in version order, the order they run in; move `m0002_c` before `m0003_b`, or renumber it after the newest migration if it is new",
            "version 3 is used by two migrations, `m0003_b` and `m0003_d`; each migration needs its own version: renumber `m0003_d` after the newest migration of the set",
            "version 3 is used by two migrations, `m0003_b` and `m0003_d`; each migration needs its own version: renumber `m0003_d` after the newest migration of the set",
        ]
    );
}

#[test]
fn the_set_lists_every_migration_in_order() {
    let tokens: TokenStream = BASE.parse().unwrap();
    let out = crate::collect::migrations(tokens).to_string();
    assert!(
        out.contains("pub static MIGRATIONS : & [& :: zerodown :: __private :: Migration] = & [& m0001_base :: MIGRATION]"),
        "{out}"
    );
}

#[test]
fn the_current_type_may_be_left_out_where_the_catalog_knows_it() {
    // A free change: accepted without `from`.
    assert_eq!(
        with_base("alter table orders alter column total type numeric(14, 2);"),
        Vec::<String>::new()
    );
    // A rewriting one: the rule speaks of the type the catalog knows.
    let e = with_base("alter table users alter column email type int;");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("changing column `email` from `text` to `int` rewrites `users`"),
        "{e:?}"
    );
    // A lone `migration!` has no catalog: the current type must be stated, as before.
    let tokens: proc_macro2::TokenStream =
        "pub mod m0002_x { alter table orders alter column total type numeric(14, 2); }"
            .parse()
            .unwrap();
    let mut out = Vec::new();
    collect(crate::expand::migration(tokens), &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("without the current type of `total`"),
        "{out:?}"
    );
}

#[test]
fn a_serial_column_is_stated_by_the_type_it_is_stored_as() {
    let base = "pub mod m0001_t { create table tickets (id serial primary key, n bigserial); }";
    let errors_of = |next: &str| errors(&format!("{base} pub mod m0002_next {{ {next} }}"));
    assert_eq!(
        errors_of("expand alter table tickets alter column id type bigint from integer;"),
        Vec::<String>::new()
    );
    assert_eq!(
        errors_of("expand alter table tickets alter column id type bigint from int;"),
        Vec::<String>::new()
    );
    assert_eq!(
        errors_of("expand alter table tickets alter column id type bigint from smallint;"),
        ["`tickets`.`id` is `serial` in the schema the earlier migrations build, not `smallint`; write `from integer`"]
    );
    assert_eq!(
        errors_of("expand alter table tickets alter column n type numeric from int;"),
        ["`tickets`.`n` is `bigserial` in the schema the earlier migrations build, not `int`; write `from bigint`"]
    );
}
