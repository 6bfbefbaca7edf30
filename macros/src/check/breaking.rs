//! Changes that break the application version still running during a deploy: `rename_column`,
//! `rename_table`, `drop_column`, `drop_table`. They are fine on tables created in this migration,
//! which no running code uses yet. The fix is the `expand` form of the same statement.

use super::{override_hint, show, Checker, Key};
use crate::ast::{Name, QName, Range, Stmt};
use crate::rules::Rule;

/// The fix of a drop: the `expand` form, or an override when no running version uses the object.
fn drop_fix(expand: String, rule: Rule) -> String {
    format!(
        "write `{expand}`, which keeps it until `complete` drops it after the old version is gone; or, if no \
         running application version uses it, {}",
        override_hint(rule)
    )
}

// drop table users, sessions;
pub(super) fn drop_table(ck: &mut Checker, stmt: &Stmt, tables: &[QName]) {
    for table in tables {
        let key = Key::table(table);
        if ck.new_tables.remove(&key) {
            continue;
        }
        // One table: underline the statement; several: each live table.
        let range = if tables.len() == 1 {
            stmt.range
        } else {
            table.range()
        };
        ck.report(
            Rule::DropTable,
            range,
            format_args!(
                "dropping table `{}` breaks the running application version if it still uses it, and loses \
                 its data; {}",
                show(table),
                drop_fix(format!("expand drop table {}", show(table)), Rule::DropTable)
            ),
        );
    }
}

// alter table users rename to accounts;
pub(super) fn rename_table(ck: &mut Checker, table: &QName, to: &Name, range: Range) {
    let from = Key::table(table);
    if ck.new_tables.remove(&from) {
        // The new name is in the same schema and is just as new.
        ck.new_tables
            .insert(Key::in_schema(table.schema.as_ref(), to));
        return;
    }
    ck.report(
        Rule::RenameTable,
        range,
        format_args!(
            "renaming table `{}` to `{}` breaks the running application version, which still uses the old \
             name; write `expand alter table {} rename to {}`, which keeps the old name working as a view until \
             `complete`",
            show(table),
            to.value,
            show(table),
            to.value
        ),
    );
}

// alter table users rename column email to email_address;
pub(super) fn rename_column(ck: &mut Checker, table: &QName, from: &Name, to: &Name, range: Range) {
    if ck.is_new_table(table) {
        return;
    }
    ck.report(
        Rule::RenameColumn,
        range,
        format_args!(
            "renaming column `{}` of `{}` to `{}` breaks the running application version, which still uses \
             the old name; write `expand alter table {} rename column {} to {}`, which keeps both names in sync \
             until `complete`",
            from.value,
            show(table),
            to.value,
            show(table),
            from.value,
            to.value
        ),
    );
}

// alter table users drop column legacy_flag;
pub(super) fn drop_column(ck: &mut Checker, table: &QName, column: &Name, range: Range) {
    if ck.is_new_table(table) {
        return;
    }
    ck.report(
        Rule::DropColumn,
        range,
        format_args!(
            "dropping column `{}` of `{}` breaks the running application version if it still reads or writes \
             it, and loses its data; {}",
            column.value,
            show(table),
            drop_fix(format!("expand alter table {} drop column {}", show(table), column.value), Rule::DropColumn)
        ),
    );
}
