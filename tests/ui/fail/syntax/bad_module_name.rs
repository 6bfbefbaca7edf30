zerodown::migration! {
    pub mod add_email_index {
        create index concurrently users_email_idx on users (email);
    }
}

fn main() {}
