// Any zone but UTC computes new values: a rewrite under ACCESS EXCLUSIVE.
zerodown::migration! {
    pub mod m0001_zone {
        set target_postgres = 12;
        alter table events alter column happened_at type timestamptz from timestamp using happened_at at time zone "Europe/Paris";
    }
}

fn main() {}
