zerodown::migration! {
    pub mod m0001_reindex_concurrently_before_pg12 {
        set target_postgres = 11;

        reindex index concurrently users_email_idx;
    }
}

fn main() {}
