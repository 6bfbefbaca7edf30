// A single `migration!` does not know `events`' partition key, so it cannot write the CHECK that lets
// the attach skip scanning the existing table `events_2026` under ACCESS EXCLUSIVE.
zerodown::migration! {
    pub mod m0003_attach {
        set target_postgres = 12;
        alter table events attach partition events_2026 for values from ("2026-01-01") to ("2027-01-01");
    }
}

fn main() {}
