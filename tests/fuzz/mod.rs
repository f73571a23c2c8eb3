//! Shared by `fuzz_targets` (proptest-driven fuzzing) and `fuzz_regressions`
//! (saved inputs): the per-target checks, the input generators, the time- or
//! case-bounded runner and a per-thread allocation meter.
#![allow(dead_code)]

pub mod alloc;
pub mod audit;
pub mod classify;
pub mod cookies;
pub mod runner;
pub mod vault;

/// Where saved inputs of a target live (`tests/fixtures/fuzz/<target>/`).
pub fn fixture_dir(target: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target)
}
