zerodown::migration! {
    pub mod m0001_not_null_not_valid_before_pg18 {
        set target_postgres = 17;
        raw(reason = "online not null") "alter table users add constraint users_email_not_null not null email not valid";
    }
}

fn main() {}
