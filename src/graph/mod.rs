//! Build plan (placeholder until the real one lands).
