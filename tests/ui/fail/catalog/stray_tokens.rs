zerodown::migrations! {
    pub mod m0001_a {
        create table a (id int);
    }
    create table b (id int);
}

fn main() {}
