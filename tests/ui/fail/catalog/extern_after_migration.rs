zerodown::migrations! {
    pub mod m0001_a {
        create table a (id int);
    }
    extern table legacy;
}

fn main() {}
