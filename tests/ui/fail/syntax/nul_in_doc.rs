zerodown::migration! {
    #[doc = "adds a\0column"]
    pub mod m0001_nul_in_doc {
        create table t (a int);
    }
}

fn main() {}
