zerodown::migration! {
    pub mod m0001_unique_index_not_concurrent {
        create unique index users_email_key on users (lower(email));
    }
}

fn main() {}
