zerodown::migration! {
    pub mod m0001_serial {
        alter table users add column seq bigserial;
    }
}

fn main() {}
