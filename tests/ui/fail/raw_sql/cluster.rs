zerodown::migration! {
    pub mod m0001_cluster {
        raw(reason = "order by time") "cluster events using events_created_at_idx";
    }
}

fn main() {}
