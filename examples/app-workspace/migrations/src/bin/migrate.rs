//! `migrate run`, `migrate complete`, `migrate status`, ...: run by the deploy job before the new
//! application version rolls out (`run`) and after the old one is gone (`complete`).

fn main() -> std::process::ExitCode {
    match migrations::migrator() {
        Ok(migrator) => zerodown::cli::main_with(migrator),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
