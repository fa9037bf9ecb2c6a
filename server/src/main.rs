//! The `edgeauth` binary: see `edgeauth --help`.

fn main() -> std::process::ExitCode {
    edgeauth_server::cli::run()
}
