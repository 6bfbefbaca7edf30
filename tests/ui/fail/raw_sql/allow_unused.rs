zerodown::migration! {
    pub mod m0001_allow_unused {
        raw(reason = "seed", lock = row_exclusive, allow = [table_rewrite]) "insert into plans (name) values ('free')";
    }
}

fn main() {}
