//! `cp-install` — install Control Plane packages through the gates.
#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() -> std::process::ExitCode {
    eprintln!("error: cp-install lands with issue 5");
    std::process::ExitCode::from(1)
}
