zerodown::migration! {
    pub mod m0001_no_rewrite {
        expand alter table users alter column email type text from varchar(100);
    }
}

fn main() {}
