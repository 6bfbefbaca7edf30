zerodown::migration! {
    pub mod m0001_backfill_assignments {
        backfill users set slug = lower(name), slug = upper(name);
        backfill users set id = id + 1 by (id);
    }
}

fn main() {}
