zerodown::migration! {
    pub mod m0001_allows_only_its_rules {
        unsafe(reason = "column unused since v42", allow = [drop_column]) {
            alter table users drop column legacy_flag;
            alter table users rename column email to mail;
        }
    }
}

fn main() {}
