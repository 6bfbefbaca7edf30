zerodown::migrations! {
    pub mod m0001_a {
        create table a (id int);
    }
    pub mod m0001_b {
        create table b (id int);
    }
}

fn main() {}
