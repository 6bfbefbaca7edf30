zerodown::migration! {
    pub mod m0001_inline_unique {
        alter table users add column handle text unique;
    }
}

fn main() {}
