zerodown::migration! {
    pub mod m0001_set_unlogged {
        raw(reason = "speed up writes") "alter table events set unlogged";
    }
}

fn main() {}
