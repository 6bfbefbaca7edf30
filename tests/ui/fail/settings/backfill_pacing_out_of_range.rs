zerodown::migration! {
    pub mod m0001_pacing {
        set backfill_target_batch = 5min;
        set backfill_max_replica_lag = 50ms;
        set backfill_busy_percent = 150;

        backfill users set email_lower = lower(email);
    }
}

fn main() {}
