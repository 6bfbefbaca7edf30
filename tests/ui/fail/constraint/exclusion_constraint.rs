zerodown::migration! {
    pub mod m0001_exclusion_constraint {
        alter table bookings add constraint bookings_no_overlap exclude using gist (room with =, during with &&);
    }
}

fn main() {}
