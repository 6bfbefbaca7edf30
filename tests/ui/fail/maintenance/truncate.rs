zerodown::migration! {
    pub mod m0001_truncate {
        truncate sessions;
    }
}

fn main() {}
