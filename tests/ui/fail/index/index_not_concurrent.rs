zerodown::migration! {
    pub mod m0001_index_not_concurrent {
        create index users_email_idx on users (email);
    }
}

fn main() {}
