zerodown::migration! {
    pub mod m0001_keyword_column {
        backfill bookings set minutes = end - start where minutes is null;
    }
}

fn main() {}
