zerodown::migration! {
    pub mod m0001_set_tablespace {
        raw(reason = "move to the fast disk") "alter table events set tablespace fast";
    }
}

fn main() {}
