zerodown::migration! {
    pub mod m0001_inline_check {
        alter table users add column age int check (age >= 0);
    }
}

fn main() {}
