zerodown::migration! {
    pub mod m0001_reindex_not_concurrent {
        reindex index users_email_idx;
    }
}

fn main() {}
