zerodown::migration! {
    pub mod m0001_unparsed {
        raw(reason = "typo") "update users set name = lower(name);
            alter tabel users add column x int";
    }
}

fn main() {}
