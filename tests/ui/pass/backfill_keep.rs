// `backfill .. keep`: a trigger fills the derived column until `complete`.
zerodown::migration! {
    pub mod m0013_backfill_keep {
        alter table orders add column total_cents bigint;
        backfill orders set total_cents = quantity * unit_price_cents keep;
        backfill app.orders set label = lower(name) where label is null by (id) keep;
    }
}

fn main() {
    let m = &m0013_backfill_keep::MIGRATION;
    // Dropped by `complete`, newest first.
    assert_eq!(m.contract.steps.len(), 2);
    assert!(m.contract.steps[0].statements[0].contains("~zd_sync_keep_orders_label"));
    assert!(m.rolls_back_by_undo());
}
