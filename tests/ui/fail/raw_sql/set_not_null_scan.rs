zerodown::migration! {
    pub mod m0001_set_not_null_scan {
        raw(reason = "email is always set") "alter table users alter column email set not null";
    }
}

fn main() {}
