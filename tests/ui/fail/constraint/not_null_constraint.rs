// A named `not null` needs PostgreSQL 18, and on an existing table `not valid` (else it scans).
zerodown::migration! {
    pub mod m0001_before_18 {
        set target_postgres = 17;
        alter table users add constraint users_email_nn not null email not valid;
    }
}

zerodown::migration! {
    pub mod m0002_scan {
        set target_postgres = 18;
        alter table users add constraint users_email_nn not null email;
    }
}

fn main() {}
