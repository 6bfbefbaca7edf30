zerodown::migration! {
    pub mod m0001_attach_partition_before_pg12 {
        set target_postgres = 11;
        raw(reason = "next month") "alter table events attach partition events_2026_12 for values from ('2026-12-01') to ('2027-01-01')";
    }
}

fn main() {}
