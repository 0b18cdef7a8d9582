//! The `builder` binary: everything lives in the library.

fn main() {
    std::process::exit(builder::cli::run());
}
