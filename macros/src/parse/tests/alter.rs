use super::*;
use crate::ast::*;

/// The actions of a single `alter table` on table `t`.
fn actions(src: &str) -> Vec<AlterAction> {
    let StmtKind::AlterTable { table, actions } = stmt(src) else {
        panic!("not alter table: {src}")
    };
    assert_eq!(table.name.value, "t");
    actions
}

fn action(src: &str) -> AlterActionKind {
    let mut all = actions(src);
    assert_eq!(all.len(), 1);
    all.remove(0).kind
}

#[test]
fn add_column_forms() {
    for src in [
        "alter table t add column email text",
        "alter table t add email text",
    ] {
        let AlterActionKind::AddColumn {
            if_not_exists,
            column,
        } = action(src)
        else {
            panic!()
        };
        assert!(!if_not_exists);
        assert_eq!(
            (column.name.value.as_str(), column.ty.words.as_slice()),
            ("email", &["text".to_owned()][..])
        );
    }
    let AlterActionKind::AddColumn {
        if_not_exists,
        column,
    } = action("alter table t add column if not exists n int not null default 0 check (n >= 0)")
    else {
        panic!()
    };
    assert!(if_not_exists);
    assert_eq!(column.constraints.len(), 3);
    assert_eq!(sexp(column.default().unwrap()), "0");
    let AlterActionKind::AddColumn { if_not_exists, .. } =
        action("alter table t add if not exists n int")
    else {
        panic!()
    };
    assert!(if_not_exists);
}

#[test]
fn add_constraint_forms() {
    let AlterActionKind::AddConstraint(c) =
        action("alter table t add constraint t_a_fk foreign key (a) references u (id) not valid")
    else {
        panic!()
    };
    assert_eq!(c.name.unwrap().value, "t_a_fk");
    assert!(c.not_valid.is_some());
    assert!(matches!(c.kind, TableConstraintKind::ForeignKey { .. }));
    for (src, check) in [
        ("alter table t add check (a > 0) not valid", "check"),
        ("alter table t add unique (a)", "unique"),
        ("alter table t add primary key (a)", "pk"),
        (
            "alter table t add constraint u unique using index u_idx",
            "unique_idx",
        ),
        (
            "alter table t add exclude using gist (a with &&)",
            "exclude",
        ),
    ] {
        let AlterActionKind::AddConstraint(c) = action(src) else {
            panic!("{src}")
        };
        let ok = match (&c.kind, check) {
            (TableConstraintKind::Check(_), "check") => c.not_valid.is_some(),
            (TableConstraintKind::Unique { .. }, "unique") => c.not_valid.is_none(),
            (TableConstraintKind::PrimaryKey { .. }, "pk") => true,
            (TableConstraintKind::UniqueUsingIndex(_), "unique_idx") => true,
            (TableConstraintKind::Exclude { .. }, "exclude") => true,
            _ => false,
        };
        assert!(ok, "{src}: {:?}", c.kind);
    }
    // A column can be named like a constraint keyword with `column` or a raw identifier.
    let AlterActionKind::AddColumn { column, .. } = action("alter table t add column r#check text")
    else {
        panic!()
    };
    assert_eq!(column.name.value, "check");
}

#[test]
fn drop_forms() {
    let AlterActionKind::DropColumn {
        if_exists,
        column,
        cascade,
    } = action("alter table t drop column if exists a cascade")
    else {
        panic!()
    };
    assert!(if_exists && cascade && column.value == "a");
    let AlterActionKind::DropColumn {
        if_exists, cascade, ..
    } = action("alter table t drop a")
    else {
        panic!()
    };
    assert!(!if_exists && !cascade);
    let AlterActionKind::DropConstraint {
        if_exists,
        name,
        cascade,
    } = action("alter table t drop constraint if exists c cascade")
    else {
        panic!()
    };
    assert!(if_exists && cascade && name.value == "c");
    let AlterActionKind::DropConstraint {
        if_exists, cascade, ..
    } = action("alter table t drop constraint c")
    else {
        panic!()
    };
    assert!(!if_exists && !cascade);
}

#[test]
fn alter_column_forms() {
    let AlterActionKind::AlterType {
        column,
        ty,
        from,
        using,
    } = action("alter table t alter column a set data type bigint from integer using a::bigint")
    else {
        panic!()
    };
    assert_eq!(column.value, "a");
    assert_eq!(ty_str(&ty), "bigint");
    assert_eq!(ty_str(&from.unwrap()), "integer");
    assert_eq!(sexp(&using.unwrap()), "(cast a bigint)");
    let AlterActionKind::AlterType {
        ty, from, using, ..
    } = action("alter table t alter a type varchar(20)")
    else {
        panic!()
    };
    assert_eq!(ty_str(&ty), "varchar(20)");
    assert!(from.is_none() && using.is_none());
    let AlterActionKind::AlterType { ty, from, .. } = action(
        "alter table t alter a type timestamp with time zone from timestamp without time zone",
    ) else {
        panic!()
    };
    assert_eq!(ty_str(&ty), "timestamp with time zone");
    assert_eq!(ty_str(&from.unwrap()), "timestamp without time zone");

    let AlterActionKind::SetDefault { column, expr } =
        action("alter table t alter column a set default 1 + 1")
    else {
        panic!()
    };
    assert_eq!(
        (column.value.as_str(), sexp(&expr).as_str()),
        ("a", "(+ 1 1)")
    );
    assert!(matches!(
        action("alter table t alter column a drop default"),
        AlterActionKind::DropDefault { .. }
    ));
    assert!(matches!(
        action("alter table t alter a set not null"),
        AlterActionKind::SetNotNull { .. }
    ));
    assert!(matches!(
        action("alter table t alter a drop not null"),
        AlterActionKind::DropNotNull { .. }
    ));
}

#[test]
fn rename_and_validate() {
    let AlterActionKind::RenameColumn { from, to } = action("alter table t rename column a to b")
    else {
        panic!()
    };
    assert_eq!((from.value.as_str(), to.value.as_str()), ("a", "b"));
    let AlterActionKind::RenameColumn { from, .. } = action("alter table t rename a to b") else {
        panic!()
    };
    assert_eq!(from.value, "a");
    let AlterActionKind::RenameTo { to } = action("alter table t rename to u") else {
        panic!()
    };
    assert_eq!(to.value, "u");
    let AlterActionKind::ValidateConstraint { name } =
        action("alter table t validate constraint c")
    else {
        panic!()
    };
    assert_eq!(name.value, "c");
}

#[test]
fn several_actions_with_ranges() {
    let all = actions(
        "alter table t\n  add column a int,\n  alter column b set not null,\n  drop constraint c",
    );
    assert_eq!(all.len(), 3);
    assert_eq!(pos(all[0].range), ((3, 2), (3, 18)));
    assert_eq!(pos(all[1].range), ((4, 2), (4, 29)));
    assert_eq!(pos(all[2].range), ((5, 2), (5, 19)));
}

#[test]
fn alter_table_errors() {
    let d = error("alter table t frobnicate a;");
    assert_eq!(
        d.msg,
        "expected an `alter table` action (`add`, `drop`, `alter`, `rename`, `set (..)` or `validate constraint`), found `frobnicate`"
    );
    assert_eq!(d.start, (2, 14));
    let d = error("alter table t alter column a set storage plain;");
    assert_eq!(
        d.msg,
        "expected `type`, `set default`, `drop default`, `set not null`, `drop not null` or `set statistics` after \
         `alter column a`, found `set`"
    );
    let d = error("alter table t rename a b;");
    assert_eq!(d.msg, "expected `to` after `rename column a`, found `b`");
    let d = error("alter table if exists t add a int;");
    assert!(
        d.msg
            .starts_with("`alter table if exists` is not supported"),
        "{}",
        d.msg
    );
    let d = error("alter table t rename constraint a to b;");
    assert!(
        d.msg.starts_with("`rename constraint` is not supported"),
        "{}",
        d.msg
    );
    let d = error("alter table t add constraint c;");
    assert_eq!(
        d.msg,
        "expected `check`, `unique`, `primary key`, `foreign key`, `not null` or `exclude` after `constraint c`, found `;`"
    );
    let d = error("alter table t add a int,;");
    assert_eq!(
        d.msg,
        "expected an `alter table` action (`add`, `drop`, `alter`, `rename`, `set (..)` or `validate constraint`), found `;`"
    );
}
