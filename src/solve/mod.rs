//! Solving the build graph: for each step, compute its cache key, then either reuse a
//! cached layer or prepare a snapshot and run the step into it. So far this holds the
//! COPY/ADD engine ([`copy`]), which writes a step's files into a fresh layer directory.

pub mod copy;
