//! The checker over hand-built syntax trees: which rule fires, in which context, and with which fix.
//! Spans are checked by the trybuild cases in `tests/ui/`.

use super::build::*;
use crate::ast::*;

/// The rule names of `messages`, in order (`[rule: x]` suffix, or `-` for a plain error).
fn rules(messages: &[String]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| match m.rfind("[rule: ") {
            Some(i) => m[i + 7..].trim_end_matches(']'),
            None => "-",
        })
        .collect()
}

fn assert_rules(messages: Vec<String>, expected: &[&str]) -> Vec<String> {
    assert_eq!(rules(&messages), expected, "{messages:#?}");
    messages
}

#[test]
fn safe_forms_pass() {
    let msgs = run(vec![
        stmt(create_index(
            Some("users_email_idx"),
            "users",
            true,
            &["email"],
        )),
        alter(
            "users",
            vec![add_column(column("last_seen", "timestamptz", vec![]))],
        ),
        alter(
            "users",
            vec![add_column(column(
                "created_at",
                "timestamptz",
                vec![
                    ColumnConstraintKind::NotNull,
                    ColumnConstraintKind::Default(call("now", vec![])),
                ],
            ))],
        ),
        alter(
            "orders",
            vec![constraint(
                Some("orders_user_id_fkey"),
                TableConstraintKind::ForeignKey {
                    columns: vec![name("user_id")],
                    target: fk_target("users", &["id"]),
                },
                true,
            )],
        ),
        alter(
            "orders",
            vec![AlterActionKind::ValidateConstraint {
                name: name("orders_user_id_fkey"),
            }],
        ),
        alter(
            "users",
            vec![constraint(
                Some("users_email_key"),
                TableConstraintKind::Unique {
                    columns: vec![name("email")],
                    include: vec![],
                },
                false,
            )],
        ),
        alter(
            "users",
            vec![AlterActionKind::SetNotNull {
                column: name("email"),
            }],
        ),
        alter(
            "users",
            vec![AlterActionKind::AlterType {
                column: name("email"),
                ty: ty("text"),
                from: Some(ty("varchar(100)")),
                using: None,
            }],
        ),
        stmt(StmtKind::DropIndex {
            concurrently: Some(Range::single(proc_macro2::Span::call_site())),
            if_exists: false,
            index: qname("users_email_idx"),
            cascade: false,
        }),
        stmt(raw(
            Some("refresh the materialized view"),
            "refresh materialized view concurrently stats",
            true,
        )),
    ]);
    assert_rules(msgs, &[]);
}

#[test]
fn new_tables_need_no_online_recipe() {
    let msgs = run(vec![
        create_table(
            "accounts",
            vec![column(
                "id",
                "bigint",
                vec![ColumnConstraintKind::PrimaryKey],
            )],
        ),
        stmt(create_index(
            Some("accounts_id_idx"),
            "accounts",
            false,
            &["id"],
        )),
        alter(
            "accounts",
            vec![
                add_column(column(
                    "token",
                    "uuid",
                    vec![ColumnConstraintKind::Default(call(
                        "gen_random_uuid",
                        vec![],
                    ))],
                )),
                add_column(column("n", "bigserial", vec![])),
                add_column(column(
                    "email",
                    "text",
                    vec![ColumnConstraintKind::NotNull, ColumnConstraintKind::Unique],
                )),
                AlterActionKind::AlterType {
                    column: name("n"),
                    ty: ty("int"),
                    from: None,
                    using: None,
                },
                AlterActionKind::RenameColumn {
                    from: name("n"),
                    to: name("m"),
                },
                AlterActionKind::DropColumn {
                    if_exists: false,
                    column: name("m"),
                    cascade: false,
                },
                constraint(
                    Some("accounts_id_check"),
                    TableConstraintKind::Check(col("id")),
                    false,
                ),
            ],
        ),
        stmt(StmtKind::DropIndex {
            concurrently: None,
            if_exists: false,
            index: qname("accounts_id_idx"),
            cascade: false,
        }),
        stmt(StmtKind::Truncate {
            tables: vec![qname("accounts")],
            cascade: false,
        }),
        alter(
            "accounts",
            vec![AlterActionKind::RenameTo {
                to: name("members"),
            }],
        ),
        // Renamed, still new.
        stmt(create_index(
            Some("members_email_idx"),
            "members",
            false,
            &["email"],
        )),
        stmt(StmtKind::DropTable {
            if_exists: false,
            tables: vec![qname("members")],
            cascade: false,
        }),
    ]);
    assert_rules(msgs, &[]);
}

#[test]
fn dropped_new_table_and_schemas_are_not_confused() {
    let msgs = run(vec![
        create_table("app.users", vec![column("id", "bigint", vec![])]),
        // `users` is not `app.users`: the search path is unknown.
        stmt(create_index(Some("users_id_idx"), "users", false, &["id"])),
        stmt(create_index(
            Some("users_id_idx2"),
            "app.users",
            false,
            &["id"],
        )),
        stmt(StmtKind::DropTable {
            if_exists: false,
            tables: vec![qname("app.users")],
            cascade: false,
        }),
        // Dropped: a later table of that name is not the new one.
        stmt(create_index(
            Some("users_id_idx3"),
            "app.users",
            false,
            &["id"],
        )),
    ]);
    assert_rules(msgs, &["index_not_concurrent", "index_not_concurrent"]);
}

#[test]
fn create_table_if_not_exists_is_not_new() {
    let msgs = run(vec![
        stmt(StmtKind::CreateTable(CreateTable {
            if_not_exists: true,
            name: qname("users"),
            columns: vec![],
            constraints: vec![],
            partition_by: None,
        })),
        stmt(create_index(
            Some("users_email_idx"),
            "users",
            false,
            &["email"],
        )),
    ]);
    assert_rules(msgs, &["index_not_concurrent"]);
}

#[test]
fn index_rules() {
    let msgs = assert_rules(
        run(vec![
            stmt(create_index(
                Some("users_email_idx"),
                "users",
                false,
                &["email"],
            )),
            stmt(create_index(None, "users", true, &["org_id", "email"])),
            stmt(create_index(None, "users", false, &["email"])),
        ]),
        &[
            "index_not_concurrent",
            "unnamed_index",
            "unnamed_index",
            "index_not_concurrent",
        ],
    );
    assert_eq!(
        msgs[0],
        "`create index` on existing table `users` blocks writes while it builds; write `create index \
         concurrently` [rule: index_not_concurrent]"
    );
    assert!(
        msgs[1].contains("e.g. `create index concurrently users_org_id_email_idx on users (..)`"),
        "{}",
        msgs[1]
    );
}

#[test]
fn drop_and_reindex() {
    let reindex = |concurrently: bool| {
        stmt(StmtKind::Reindex {
            concurrently: concurrently.then(|| Range::single(proc_macro2::Span::call_site())),
            target: ReindexTarget::Index,
            name: qname("users_email_idx"),
        })
    };
    let drop = stmt(StmtKind::DropIndex {
        concurrently: None,
        if_exists: true,
        index: qname("x_idx"),
        cascade: true,
    });
    let msgs = assert_rules(
        run(vec![drop, reindex(false), reindex(true)]),
        &["drop_index_not_concurrent", "reindex_not_concurrent"],
    );
    assert!(
        msgs[1].ends_with("write `reindex index concurrently` [rule: reindex_not_concurrent]"),
        "{}",
        msgs[1]
    );

    // Below 12 there is no `reindex concurrently`.
    let msgs = assert_rules(
        run_on(11, vec![reindex(false), reindex(true)]),
        &["reindex_not_concurrent", "-"],
    );
    assert!(
        msgs[0].contains("build a new index with `create index concurrently`"),
        "{}",
        msgs[0]
    );
    assert!(msgs[1]
        .starts_with("`reindex concurrently` needs PostgreSQL 12 and the target is PostgreSQL 11"));
}

#[test]
fn drop_index_concurrently_cascade_is_an_error() {
    let msgs = run(vec![stmt(StmtKind::DropIndex {
        concurrently: Some(Range::single(proc_macro2::Span::call_site())),
        if_exists: false,
        index: qname("x_idx"),
        cascade: true,
    })]);
    assert_rules(msgs, &["-"]);
}

#[test]
fn blocking_commands() {
    let msgs = run(vec![
        stmt(StmtKind::VacuumFull {
            table: Some(qname("users")),
        }),
        stmt(StmtKind::VacuumFull { table: None }),
        stmt(StmtKind::Cluster {
            table: qname("users"),
            index: None,
        }),
        stmt(StmtKind::LockTable {
            table: qname("users"),
            mode: None,
        }),
        stmt(StmtKind::LockTable {
            table: qname("users"),
            mode: Some(vec![name("share"), name("row"), name("exclusive")]),
        }),
        stmt(StmtKind::Truncate {
            tables: vec![qname("users")],
            cascade: false,
        }),
        stmt(StmtKind::DropSchema {
            if_exists: false,
            name: name("app"),
            cascade: true,
        }),
        stmt(StmtKind::DropDatabase {
            if_exists: false,
            name: name("analytics"),
        }),
    ]);
    let msgs = assert_rules(
        msgs,
        &[
            "vacuum_full",
            "vacuum_full",
            "cluster",
            "lock_table",
            "lock_table",
            "truncate",
            "drop_schema",
            "drop_database",
        ],
    );
    assert!(msgs[1].contains("rewrites every table"));
    assert!(msgs[3].contains("holds ACCESS EXCLUSIVE (the default mode) on `users`"));
    assert!(msgs[4].contains("holds SHARE ROW EXCLUSIVE on `users`"));
}

#[test]
fn add_column_defaults() {
    let add = |default: Expr| {
        alter(
            "users",
            vec![add_column(column(
                "c",
                "text",
                vec![ColumnConstraintKind::Default(default)],
            ))],
        )
    };
    let msgs = run(vec![
        add(text("x")),
        add(call("now", vec![])),
        add(expr(ExprKind::SqlValue(name("current_timestamp")))),
        add(call("gen_random_uuid", vec![])),
        add(call("coalesce", vec![call("random", vec![]), num("1")])),
        add(call("my_fn", vec![])),
    ]);
    // From 11 a volatile (or unknown) default is lowered to add column, `set default` and a backfill.
    assert_rules(msgs, &[]);

    // With `not null`, that recipe needs 12 to set `not null` without a scan.
    let add_not_null = |default: Expr| {
        alter(
            "users",
            vec![add_column(column(
                "c",
                "text",
                vec![
                    ColumnConstraintKind::NotNull,
                    ColumnConstraintKind::Default(default),
                ],
            ))],
        )
    };
    let msgs = run_on(
        11,
        vec![
            add_not_null(call("gen_random_uuid", vec![])),
            add_not_null(call("my_fn", vec![])),
            add_not_null(call("now", vec![])),
            add(call("random", vec![])),
        ],
    );
    let msgs = assert_rules(msgs, &["volatile_default", "volatile_default"]);
    assert!(msgs[0].starts_with("`gen_random_uuid()` is volatile, so the existing rows of `users` get the default of column `c` from a batched backfill, and before PostgreSQL 12 (the target is PostgreSQL 11) `not null` could then only be set by scanning `users` under ACCESS EXCLUSIVE; raise `set target_postgres = 12;`"), "{}", msgs[0]);
    assert!(
        msgs[1].starts_with(
            "`my_fn` is unknown to zerodown and counts as volatile, so the existing rows"
        ),
        "{}",
        msgs[1]
    );
    assert_rules(
        run_on(12, vec![add_not_null(call("gen_random_uuid", vec![]))]),
        &[],
    );

    // Before 11 any default rewrites; that rule alone is reported.
    let msgs = run_on(10, vec![add(text("x")), add(call("random", vec![]))]);
    assert_rules(
        msgs,
        &[
            "add_column_default_before_pg11",
            "add_column_default_before_pg11",
        ],
    );
}

#[test]
fn add_column_shapes() {
    let add = |n: &str, t: &str, k: Vec<ColumnConstraintKind>| add_column(column(n, t, k));
    let msgs = run(vec![alter(
        "users",
        vec![
            add("a", "text", vec![ColumnConstraintKind::NotNull]),
            add(
                "b",
                "text",
                vec![
                    ColumnConstraintKind::NotNull,
                    ColumnConstraintKind::Default(text("")),
                ],
            ),
            add("c", "bigserial", vec![]),
            add(
                "d",
                "bigint",
                vec![ColumnConstraintKind::Identity { always: true }],
            ),
            add(
                "e",
                "int",
                vec![ColumnConstraintKind::GeneratedStored(binary(
                    BinaryOp::Mul,
                    col("x"),
                    num("2"),
                ))],
            ),
            add("f", "text", vec![ColumnConstraintKind::Unique]),
            add("g", "bigint", vec![ColumnConstraintKind::PrimaryKey]),
            // With a default, its values are validated; without one (h2), nothing is.
            add(
                "h",
                "bigint",
                vec![
                    ColumnConstraintKind::Default(num("1")),
                    ColumnConstraintKind::References(fk_target("orgs", &["id"])),
                ],
            ),
            add(
                "h2",
                "bigint",
                vec![ColumnConstraintKind::References(fk_target("orgs", &["id"]))],
            ),
            add(
                "i",
                "int",
                vec![ColumnConstraintKind::Check(binary(
                    BinaryOp::GtEq,
                    col("i"),
                    num("0"),
                ))],
            ),
            // serial is not null but has its value source.
            add("j", "serial", vec![ColumnConstraintKind::NotNull]),
        ],
    )]);
    let msgs = assert_rules(
        msgs,
        &[
            "add_column_not_null_without_default",
            "add_serial_column",
            "add_serial_column",
            "add_stored_generated_column",
            "add_column_unique",
            "add_column_unique",
            "foreign_key_without_not_valid",
            "check_without_not_valid",
            "add_serial_column",
        ],
    );
    assert!(
        msgs[4].contains("`create unique index concurrently users_f_key on users (f)`"),
        "{}",
        msgs[4]
    );
    assert!(msgs[4].contains("`add constraint users_f_key unique using index users_f_key`"));
    assert!(
        msgs[5].contains("`add constraint users_pkey primary key using index users_pkey`"),
        "{}",
        msgs[5]
    );
    assert!(
        msgs[6].contains(
            "`add constraint users_h_fkey foreign key (h) references orgs (id) not valid`"
        ),
        "{}",
        msgs[6]
    );
    assert!(
        msgs[7].contains("`add constraint users_i_check check (..) not valid`"),
        "{}",
        msgs[7]
    );
}

#[test]
fn alter_column_type() {
    let change = |from: Option<&str>, to: &str, using: Option<Expr>| {
        alter(
            "users",
            vec![AlterActionKind::AlterType {
                column: name("email"),
                ty: ty(to),
                from: from.map(ty),
                using,
            }],
        )
    };
    let msgs = run(vec![
        change(Some("varchar(100)"), "text", None),
        change(Some("varchar(100)"), "varchar(200)", None),
        change(None, "text", None),
        change(Some("int"), "bigint", None),
        change(
            Some("text"),
            "text",
            Some(call("lower", vec![col("email")])),
        ),
    ]);
    let msgs = assert_rules(
        msgs,
        &[
            "alter_column_type",
            "alter_column_type",
            "alter_column_type",
        ],
    );
    assert_eq!(
        msgs[0],
        "without the current type of `email`, zerodown cannot tell whether this change rewrites `users`; \
         state it: `alter column email type text from <current type>` [rule: alter_column_type]"
    );
    assert!(
        msgs[1].starts_with("changing column `email` from `int` to `bigint` rewrites `users`"),
        "{}",
        msgs[1]
    );
    assert!(
        msgs[1]
            .contains("write `expand alter table users alter column email type bigint from int`"),
        "{}",
        msgs[1]
    );
    assert!(
        msgs[2].contains(
            "write `expand alter table users alter column email type text from text using ..`"
        ),
        "{}",
        msgs[2]
    );
    assert!(
        msgs[2].starts_with("`using` computes a new value for every row"),
        "{}",
        msgs[2]
    );
}

#[test]
fn set_not_null_depends_on_target() {
    let body = || {
        vec![alter(
            "users",
            vec![AlterActionKind::SetNotNull {
                column: name("email"),
            }],
        )]
    };
    assert_rules(run_on(12, body()), &[]);
    let msgs = assert_rules(run_on(11, body()), &["set_not_null_before_pg12"]);
    assert!(
        msgs[0].contains("`check (email is not null) not valid`"),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("`set target_postgres = 12;`"));
}

#[test]
fn primary_key_before_pg12_scans() {
    let pk = || {
        vec![alter(
            "users",
            vec![constraint(
                Some("users_pkey"),
                TableConstraintKind::PrimaryKey {
                    columns: vec![name("id")],
                    include: vec![],
                },
                false,
            )],
        )]
    };
    assert_rules(run_on(12, pk()), &[]);
    let msgs = assert_rules(run_on(11, pk()), &["set_not_null_before_pg12"]);
    assert!(
        msgs[0].starts_with("a primary key sets its columns `not null`"),
        "{}",
        msgs[0]
    );
    // On a new table nothing is scanned.
    let mut body = vec![create_table("users", vec![column("id", "bigint", vec![])])];
    body.extend(pk());
    assert_rules(run_on(11, body), &[]);
}

#[test]
fn add_constraint() {
    let fk = || TableConstraintKind::ForeignKey {
        columns: vec![name("user_id")],
        target: fk_target("users", &["id"]),
    };
    let msgs = run(vec![alter(
        "orders",
        vec![
            constraint(
                None,
                TableConstraintKind::Check(binary(BinaryOp::Gt, col("total"), num("0"))),
                true,
            ),
            constraint(
                Some("orders_total_check"),
                TableConstraintKind::Check(col("total")),
                false,
            ),
            constraint(Some("orders_user_id_fkey"), fk(), false),
            constraint(None, fk(), true),
            constraint(
                Some("no_overlap"),
                TableConstraintKind::Exclude {
                    tokens: Default::default(),
                },
                false,
            ),
            constraint(
                None,
                TableConstraintKind::Unique {
                    columns: vec![name("code")],
                    include: vec![],
                },
                false,
            ),
            constraint(
                None,
                TableConstraintKind::PrimaryKeyUsingIndex(name("orders_pkey_idx")),
                false,
            ),
            constraint(
                Some("orders_code_key"),
                TableConstraintKind::Unique {
                    columns: vec![name("code")],
                    include: vec![],
                },
                true,
            ),
        ],
    )]);
    let msgs = assert_rules(
        msgs,
        &[
            "unnamed_constraint",
            "check_without_not_valid",
            "foreign_key_without_not_valid",
            "unnamed_constraint",
            "exclusion_constraint",
            "unnamed_constraint",
            "-",
        ],
    );
    assert!(
        msgs[0].contains("write `add constraint orders_total_check check ..`"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].contains("then `alter table orders validate constraint orders_total_check`"),
        "{}",
        msgs[1]
    );
    assert!(
        msgs[2].contains("blocking writes to `orders` and `users`"),
        "{}",
        msgs[2]
    );
    assert!(
        msgs[3].contains("`add constraint orders_user_id_fkey foreign key ..`"),
        "{}",
        msgs[3]
    );
    assert!(
        msgs[5].contains("`add constraint orders_code_key unique ..`"),
        "{}",
        msgs[5]
    );
    assert!(msgs[6].starts_with(
        "`not valid` applies only to `check`, `foreign key` and `not null` constraints, not `unique`"
    ));

    // On a new table only the name is required.
    let msgs = run(vec![
        create_table("orders", vec![column("total", "int", vec![])]),
        alter(
            "orders",
            vec![constraint(
                None,
                TableConstraintKind::Check(col("total")),
                false,
            )],
        ),
    ]);
    assert_rules(msgs, &["unnamed_constraint"]);
}

#[test]
fn breaking_changes() {
    let msgs = run(vec![
        alter(
            "users",
            vec![AlterActionKind::RenameColumn {
                from: name("email"),
                to: name("mail"),
            }],
        ),
        alter(
            "users",
            vec![AlterActionKind::RenameTo {
                to: name("accounts"),
            }],
        ),
        alter(
            "users",
            vec![AlterActionKind::DropColumn {
                if_exists: false,
                column: name("legacy"),
                cascade: false,
            }],
        ),
        create_table("scratch", vec![]),
        stmt(StmtKind::DropTable {
            if_exists: false,
            tables: vec![qname("scratch"), qname("sessions"), qname("tokens")],
            cascade: false,
        }),
    ]);
    let msgs = assert_rules(
        msgs,
        &[
            "rename_column",
            "rename_table",
            "drop_column",
            "drop_table",
            "drop_table",
        ],
    );
    assert!(
        msgs[0].contains("; write `expand alter table users rename column email to mail`"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].contains("; write `expand alter table users rename to accounts`"),
        "{}",
        msgs[1]
    );
    assert!(
        msgs[2].contains("; write `expand alter table users drop column legacy`"),
        "{}",
        msgs[2]
    );
    assert!(
        msgs[2].contains("`unsafe(reason = \"..\", allow = [drop_column]) { .. }`"),
        "{}",
        msgs[2]
    );
    assert!(
        msgs[3].contains("; write `expand drop table sessions`"),
        "{}",
        msgs[3]
    );
    assert!(msgs[3].contains("`sessions`") && msgs[4].contains("`tokens`"));
}

#[test]
fn new_enum_values() {
    let add_value = |v: &str| {
        stmt(StmtKind::AlterEnumAddValue {
            name: qname("mood"),
            if_not_exists: false,
            value: string(v),
            position: None,
        })
    };
    let msgs = run(vec![
        // Before the value is added: fine.
        alter(
            "users",
            vec![AlterActionKind::SetDefault {
                column: name("mood"),
                expr: text("ecstatic"),
            }],
        ),
        add_value("ecstatic"),
        alter(
            "users",
            vec![AlterActionKind::SetDefault {
                column: name("mood"),
                expr: text("ecstatic"),
            }],
        ),
        alter(
            "users",
            vec![AlterActionKind::SetDefault {
                column: name("mood"),
                expr: text("calm"),
            }],
        ),
        create_table(
            "moods",
            vec![column(
                "m",
                "mood",
                vec![ColumnConstraintKind::Check(binary(
                    BinaryOp::NotEq,
                    col("m"),
                    text("ecstatic"),
                ))],
            )],
        ),
        stmt(StmtKind::CreateIndex(CreateIndex {
            predicate: Some(binary(BinaryOp::Eq, col("mood"), text("ecstatic"))),
            ..match create_index(Some("users_mood_idx"), "users", true, &["id"]) {
                StmtKind::CreateIndex(ix) => ix,
                _ => unreachable!(),
            }
        })),
    ]);
    let msgs = assert_rules(
        msgs,
        &[
            "new_enum_value_used",
            "new_enum_value_used",
            "new_enum_value_used",
        ],
    );
    assert!(
        msgs[0].starts_with("enum value `ecstatic` is added to `mood` earlier in this migration"),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("use it in the next migration"));
}

#[test]
fn raw_rules() {
    let msgs = run(vec![
        stmt(raw(None, "select 1", false)),
        stmt(raw(Some("  "), "select 1", false)),
        stmt(raw(Some("fix data"), "update t set a = 1; commit", false)),
        stmt(raw(
            Some("two indexes"),
            "create index concurrently a on t (a); create index concurrently b on t (b)",
            true,
        )),
    ]);
    let msgs = assert_rules(
        msgs,
        &[
            "raw_without_reason",
            "raw_without_reason",
            "raw_transaction_control",
            "-",
        ],
    );
    assert!(
        msgs[2].starts_with("raw SQL contains `commit`;"),
        "{}",
        msgs[2]
    );
}

#[test]
fn overrides_silence_only_their_rules() {
    let msgs = run(vec![unsafe_block(
        Some("maintenance window: table is 10 rows"),
        &["vacuum_full", "drop_column"],
        vec![
            StmtKind::VacuumFull {
                table: Some(qname("flags")),
            },
            alter_kind(
                "flags",
                vec![AlterActionKind::DropColumn {
                    if_exists: false,
                    column: name("x"),
                    cascade: false,
                }],
            ),
            StmtKind::Cluster {
                table: qname("flags"),
                index: None,
            },
        ],
    )]);
    assert_rules(msgs, &["cluster"]);
}

#[test]
fn override_header_errors() {
    let body = || vec![StmtKind::VacuumFull { table: None }];
    assert_rules(
        run(vec![unsafe_block(None, &["vacuum_full"], body())]),
        &["override_without_reason"],
    );
    assert_rules(
        run(vec![unsafe_block(Some(" "), &["vacuum_full"], body())]),
        &["override_without_reason"],
    );
    assert_rules(
        run(vec![unsafe_block(Some("why"), &[], body())]),
        &["override_without_reason", "vacuum_full"],
    );
    // Neither: one error saying both.
    let msgs = assert_rules(
        run(vec![unsafe_block(None, &[], body())]),
        &["override_without_reason", "vacuum_full"],
    );
    assert!(
        msgs[0].starts_with(
            "`unsafe` needs a reason and the rules it allows; write `unsafe(reason = "
        ),
        "{}",
        msgs[0]
    );

    let msgs = assert_rules(
        run(vec![unsafe_block(
            Some("why"),
            &[
                "vacuum_ful",
                "raw_transaction_control",
                "vacuum_full",
                "vacuum_full",
                "drop_table",
            ],
            body(),
        )]),
        &["-", "-", "-", "-"],
    );
    assert!(
        msgs[0].starts_with("unknown rule `vacuum_ful`; did you mean `vacuum_full`? known rules: "),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].starts_with("rule `raw_transaction_control` cannot be overridden"),
        "{}",
        msgs[1]
    );
    assert_eq!(
        msgs[2],
        "rule `vacuum_full` is listed twice in `allow`; remove this one"
    );
    assert_eq!(
        msgs[3],
        "rule `drop_table` is allowed but nothing in this block breaks it; remove it from `allow`"
    );
}

#[test]
fn non_overridable_rules_fire_inside_overrides() {
    let msgs = run(vec![unsafe_block(
        Some("data fix"),
        &["truncate"],
        vec![
            StmtKind::Truncate {
                tables: vec![qname("t")],
                cascade: false,
            },
            raw(Some("x"), "commit", false),
        ],
    )]);
    assert_rules(msgs, &["raw_transaction_control"]);
}
