zerodown::migration! {
    pub mod m0001_mixed {
        expand alter table users rename column email to login;
        create index concurrently users_name_idx on users (name);
    }
}

fn main() {}
