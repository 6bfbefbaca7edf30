zerodown::migration! {
    pub mod m0001_no_options {
        unsafe {
            alter table users drop column legacy_flag;
        }
    }
}

fn main() {}
