zerodown::migration! {
    pub mod m0001_does_not_cover_later_statements {
        unsafe(reason = "column unused since v42", allow = [drop_column]) {
            alter table users drop column legacy_flag;
        }
        alter table users drop column other_flag;
    }
}

fn main() {}
