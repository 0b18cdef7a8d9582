//! The `builder` binary: everything lives in the library.

fn main() {
    // A sandbox helper re-executed by a RUN never gets past this line.
    builder::sandbox::helper_main();
    std::process::exit(builder::cli::run());
}
