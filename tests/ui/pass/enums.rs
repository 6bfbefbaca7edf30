// A new enum value is added in one migration and used in the next.
zerodown::migration! {
    pub mod m0006_add_mood {
        alter type mood add value if not exists "ecstatic" after "happy";
        comment on type mood is "how a user feels";
    }
}

zerodown::migration! {
    pub mod m0007_use_mood {
        alter table users alter column mood set default "ecstatic";
    }
}

fn main() {
    assert!(m0006_add_mood::VERSION < m0007_use_mood::VERSION);
}
