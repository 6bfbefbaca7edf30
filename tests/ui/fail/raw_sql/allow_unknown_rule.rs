zerodown::migration! {
    pub mod m0001_allow_unknown_rule {
        raw(reason = "move", allow = [table_rewrit]) "alter table events set tablespace fast";
    }
}

fn main() {}
