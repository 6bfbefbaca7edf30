zerodown::migration! {
    pub mod m0001_drop_index_concurrently_cascade {
        drop index concurrently users_email_idx cascade;
    }
}

fn main() {}
