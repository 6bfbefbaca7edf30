// Reading stored timestamps as UTC keeps them in place only from PostgreSQL 12.
zerodown::migration! {
    pub mod m0001_utc {
        set target_postgres = 11;
        alter table events alter column happened_at type timestamptz from timestamp using happened_at at time zone "UTC";
    }
}

fn main() {}
