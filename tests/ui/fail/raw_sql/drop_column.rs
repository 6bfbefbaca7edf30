zerodown::migration! {
    pub mod m0001_drop_column {
        raw(reason = "unused") "alter table users drop column legacy_flags";
    }
}

fn main() {}
