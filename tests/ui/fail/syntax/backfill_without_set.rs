zerodown::migration! {
    pub mod m0001_backfill_without_set {
        backfill users slug = lower(name);
    }
}

fn main() {}
