zerodown::migration! {
    pub mod m0001_inline_references {
        alter table users add column org_id bigint default 1 references orgs (id);
    }
}

fn main() {}
