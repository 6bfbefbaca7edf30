zerodown::migration! {
    pub mod m0001_detach_finalize_before_pg14 {
        set target_postgres = 13;
        raw(reason = "finish the detach", no_transaction) "alter table events detach partition events_2020 finalize";
    }
}

fn main() {}
