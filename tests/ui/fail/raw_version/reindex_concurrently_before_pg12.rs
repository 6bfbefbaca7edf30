zerodown::migration! {
    pub mod m0001_reindex_concurrently_before_pg12 {
        set target_postgres = 11;
        raw(reason = "bloated index", no_transaction) "reindex index concurrently users_email_idx";
    }
}

fn main() {}
