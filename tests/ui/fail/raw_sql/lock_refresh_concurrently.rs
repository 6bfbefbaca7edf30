zerodown::migration! {
    pub mod m0001_lock_refresh_concurrently {
        raw(reason = "fresh stats", lock = share_update_exclusive) "refresh materialized view concurrently user_stats";
    }
}

fn main() {}
