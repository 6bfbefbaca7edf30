zerodown::migration! {
    pub mod m0001_volatile_using {
        expand alter table users alter column id type bigint from integer using (random() * 1000)::bigint;
    }
}

fn main() {}
