zerodown::migration! {
    pub mod m0001_two_actions {
        expand alter table users rename column email to login, drop column legacy;
    }
}

fn main() {}
