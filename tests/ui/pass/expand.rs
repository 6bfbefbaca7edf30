//! Every `expand` form, and the phases they lower to.

zerodown::migration! {
    /// A type change and a rename on one table (different columns), a rename and drops elsewhere.
    pub mod m0001_expand_forms {
        set backfill_batch_size = 500;
        expand alter table users alter column id set data type bigint from integer;
        expand alter table users alter column score type numeric(12, 2) from integer using score / 100.0;
        expand alter table users rename column email to login;
        expand alter table app.orders rename to purchases;
        expand alter table users drop column legacy_flag;
        expand drop table sessions;
    }
}

fn main() {
    let m = &m0001_expand_forms::MIGRATION;
    assert_eq!(m.checksum, m.compute_checksum());
    // Two column changes of five steps, a rename, a drop column and a drop table of one step each.
    assert_eq!(m.expand.steps.len(), 5 + 5 + 5 + 1 + 1 + 1);
    // Each column change verifies its copy online before its contract transaction.
    assert_eq!(m.contract.steps.len(), 2 + 2 + 2 + 1 + 1 + 1);
    // Nothing to undo for a drop table.
    assert_eq!(m.rollback.steps.len(), 5);
    assert_eq!(
        m.touches,
        [
            "public.users.id",
            "public.users.score",
            "public.users.email",
            "public.users.login",
            "app.orders",
            "app.purchases",
            "public.users.legacy_flag",
            "public.sessions",
        ]
    );
}
