zerodown::migration! {
    pub mod m0001_volatile_default {
        raw(reason = "public ids") "alter table users add column public_id uuid not null default gen_random_uuid()";
    }
}

fn main() {}
