zerodown::migration! {
    pub mod m0001_second_statement {
        raw(reason = "seed and index", lock = share) "insert into plans (name) values ('free');
            create index plans_name_idx on plans (name)";
    }
}

fn main() {}
