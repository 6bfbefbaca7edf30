zerodown::migration! {
    pub mod m0001_backfill_volatile_without_where {
        backfill users set token = gen_random_uuid(), seen_at = now();
    }
}

fn main() {}
