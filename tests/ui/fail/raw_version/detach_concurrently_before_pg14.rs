zerodown::migration! {
    pub mod m0001_detach_concurrently_before_pg14 {
        set target_postgres = 13;
        raw(reason = "drop old data later", no_transaction) "alter table events detach partition events_2020 concurrently";
    }
}

fn main() {}
