//! The `flags` command-line tool.

fn main() {}
