//! Command-line interface (placeholder until the real one lands).

/// Run the command line; returns the process exit code.
pub fn run() -> i32 {
    2
}
