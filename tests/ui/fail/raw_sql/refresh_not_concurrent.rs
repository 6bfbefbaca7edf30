zerodown::migration! {
    pub mod m0001_refresh_not_concurrent {
        raw(reason = "fresh stats") "refresh materialized view user_stats";
    }
}

fn main() {}
