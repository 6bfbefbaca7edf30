zerodown::migration! {
    pub mod m0001_check_without_not_valid {
        alter table users add constraint users_age_check check (age >= 0);
    }
}

fn main() {}
