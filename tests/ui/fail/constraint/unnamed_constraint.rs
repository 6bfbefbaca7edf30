zerodown::migration! {
    pub mod m0001_unnamed_constraint {
        alter table users add check (age >= 0) not valid;
    }
}

fn main() {}
