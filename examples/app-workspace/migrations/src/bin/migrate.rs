//! `migrate run`, `migrate complete`, `migrate status`, ...: run by the deploy job before the new
//! application version rolls out (`run`) and after the old one is gone (`complete`).

fn main() -> std::process::ExitCode {
    zerodown::cli::main(migrations::MIGRATIONS)
}
