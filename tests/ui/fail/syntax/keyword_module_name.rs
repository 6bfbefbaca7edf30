// A keyword cannot name the module: one error, and no stub module adding a syntax error of its own.
zerodown::migration! {
    pub mod self {
        create table t (a int);
    }
}

fn main() {}
