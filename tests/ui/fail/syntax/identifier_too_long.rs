zerodown::migration! {
    pub mod m0001_identifier_too_long {
        create index concurrently users_email_index_that_has_a_name_far_longer_than_postgres_allows on users (email);
    }
}

fn main() {}
