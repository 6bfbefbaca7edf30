zerodown::migration! {
    pub mod m0001_not_valid_on_unique {
        alter table users add constraint users_email_key unique (email) not valid;
    }
}

fn main() {}
