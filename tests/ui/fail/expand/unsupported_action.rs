zerodown::migration! {
    pub mod m0001_unsupported_action {
        expand alter table users add column nickname text;
    }
}

fn main() {}
