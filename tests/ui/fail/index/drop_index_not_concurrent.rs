zerodown::migration! {
    pub mod m0001_drop_index_not_concurrent {
        drop index users_email_idx;
    }
}

fn main() {}
