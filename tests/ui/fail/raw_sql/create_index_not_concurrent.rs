zerodown::migration! {
    pub mod m0001_create_index_not_concurrent {
        raw(reason = "lookup by email") "create index users_email_idx on users (lower(email))";
    }
}

fn main() {}
