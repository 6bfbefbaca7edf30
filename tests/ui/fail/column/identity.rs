zerodown::migration! {
    pub mod m0001_identity {
        alter table users add column seq bigint generated always as identity;
    }
}

fn main() {}
