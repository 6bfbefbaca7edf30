zerodown::migration! {
    pub mod m0001_stored_generated_before_pg12 {
        set target_postgres = 11;

        create table prices (
            net numeric not null,
            gross numeric generated always as (net * 1.2) stored
        );
    }
}

fn main() {}
