zerodown::migration! {
    pub mod m0001_create_extension {
        create extension if not exists pgcrypto;
    }
}

fn main() {}
