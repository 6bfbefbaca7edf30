zerodown::migration! {
    pub mod m0001_not_null_without_default {
        alter table users add column status text not null;
    }
}

fn main() {}
