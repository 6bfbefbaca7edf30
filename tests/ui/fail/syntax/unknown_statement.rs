zerodown::migration! {
    pub mod m0001_unknown_statement {
        select * from users;
    }
}

fn main() {}
