// `detach partition .. concurrently` exists from PostgreSQL 14.
zerodown::migration! {
    pub mod m0004_detach {
        set target_postgres = 13;
        alter table events detach partition events_2019 concurrently;
    }
}

fn main() {}
