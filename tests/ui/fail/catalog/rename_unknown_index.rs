// Renaming an index the schema does not have, or to a name another index has.
zerodown::migrations! {
    pub mod m0001_base {
        create table users (id bigint primary key, email text, name text);
        create index users_email_idx on users (email);
        create index users_name_idx on users (name);
    }
    pub mod m0002_rename {
        alter index users_emial_idx rename to users_mail_idx;
        alter index users_email_idx rename to users_name_idx;
    }
}

fn main() {}
