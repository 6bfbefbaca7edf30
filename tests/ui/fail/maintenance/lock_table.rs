zerodown::migration! {
    pub mod m0001_lock_table {
        lock table users in share row exclusive mode;
    }
}

fn main() {}
