zerodown::migration! {
    pub mod m0001_touched_twice {
        expand alter table users rename column email to login;
        expand alter table users drop column email;
    }
}

fn main() {}
