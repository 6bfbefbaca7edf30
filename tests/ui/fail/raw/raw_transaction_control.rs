zerodown::migration! {
    pub mod m0001_raw_transaction_control {
        raw(reason = "backfill flags") "update users set flags = 0; commit;";
    }
}

fn main() {}
