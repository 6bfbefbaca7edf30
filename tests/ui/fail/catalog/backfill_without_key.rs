zerodown::migrations! {
    pub mod m0001_bag {
        create table bag (item text, qty int);
    }
    pub mod m0002_fill {
        alter table bag add column note text;
        backfill bag set note = item;
    }
}

fn main() {}
