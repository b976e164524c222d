//! The `xgate` binary: parse the command line, hand over to the command.

fn main() -> std::process::ExitCode {
    xgate::cli::run()
}
