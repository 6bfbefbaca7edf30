zerodown::migration! {
    pub mod m0001_update_rows {
        update users set active = true;
    }
}

fn main() {}
