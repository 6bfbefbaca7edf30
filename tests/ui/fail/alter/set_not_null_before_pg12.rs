zerodown::migration! {
    pub mod m0001_set_not_null_before_pg12 {
        set target_postgres = 11;

        alter table users alter column email set not null;
    }
}

fn main() {}
