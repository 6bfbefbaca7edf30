// A hash bound cannot be stated as a CHECK PostgreSQL's proof accepts: the attach would scan.
zerodown::migrations! {
    pub mod m0001_base {
        create table sessions (id bigint not null, token text) partition by hash (id);
        create table sessions_0 (id bigint not null, token text);
    }
    pub mod m0002_attach {
        alter table sessions attach partition sessions_0 for values with (modulus 4, remainder 0);
    }
}

fn main() {}
