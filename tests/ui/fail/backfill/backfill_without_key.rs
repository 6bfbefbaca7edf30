zerodown::migration! {
    pub mod m0001_backfill_without_key {
        create table imports (name text, slug text);
        backfill imports set slug = lower(name);
    }
}

fn main() {}
