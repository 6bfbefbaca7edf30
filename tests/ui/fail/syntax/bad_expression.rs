zerodown::migration! {
    pub mod m0001_bad_expression {
        alter table users add column score int default 1 +;
    }
}

fn main() {}
