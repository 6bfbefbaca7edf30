// Expressions nest at most 32 levels: deeper input is an error, not a stack overflow in rustc.
zerodown::migration! {
    pub mod m0001_nested_too_deep {
        create table t (
            a int default ((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))
        );
    }
}

fn main() {}
