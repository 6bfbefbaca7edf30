zerodown::migration! {
    pub mod m0001_cluster {
        cluster users using users_created_at_idx;
    }
}

fn main() {}
