//! Runs one fuzz target either for a fixed number of cases (CI) or for a
//! time budget (`scripts/fuzz.sh`), seed after seed, and reports what it did.
//!
//! Environment: `FUZZ_CASES` (cases per CI run, default 256), `FUZZ_SEED`
//! (first seed, default 0x5eed), `FUZZ_SECONDS` (time budget of a long run,
//! default 60), `FUZZ_FAILURE_DIR` (where a failing input is written, default
//! `target/fuzz-failures`).

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseResult, TestError, TestRng, TestRunner};

/// Cases a CI run tries when `FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 256;
/// Seed of the first batch when `FUZZ_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5eed;
/// Time budget of a long run when `FUZZ_SECONDS` is not set.
pub const DEFAULT_SECONDS: u64 = 60;
/// Cases per seed in a long run; each batch gets a fresh seed.
const LONG_BATCH: u32 = 512;

/// How long a run goes on.
#[derive(Clone, Debug)]
pub struct Budget {
    pub cases_per_seed: u32,
    pub first_seed: u64,
    /// `None`: one batch of `cases_per_seed`; `Some`: batches until it passes.
    pub time: Option<Duration>,
    /// Where a failing input is written.
    pub failure_dir: PathBuf,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl Budget {
    /// One batch, small by default so `cargo test` stays fast.
    pub fn ci() -> Budget {
        Budget {
            cases_per_seed: env_u64("FUZZ_CASES")
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(DEFAULT_CASES),
            first_seed: env_u64("FUZZ_SEED").unwrap_or(DEFAULT_SEED),
            time: None,
            failure_dir: failure_dir(),
        }
    }

    /// Batches with increasing seeds until `FUZZ_SECONDS` have passed.
    pub fn long() -> Budget {
        Budget {
            cases_per_seed: LONG_BATCH,
            first_seed: env_u64("FUZZ_SEED").unwrap_or_else(|| {
                // A different start each long run explores new inputs; the
                // seed is printed, so a failure can be replayed.
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(DEFAULT_SEED)
            }),
            time: Some(Duration::from_secs(
                env_u64("FUZZ_SECONDS").unwrap_or(DEFAULT_SECONDS),
            )),
            failure_dir: failure_dir(),
        }
    }
}

fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn failure_dir() -> PathBuf {
    std::env::var_os("FUZZ_FAILURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures"))
}

/// Runs `check` on inputs from `strategy` within `budget`. A failure (a
/// broken property or a panic) is shrunk, its input written to the failure
/// directory as bytes via `to_bytes`, and the run panics with both seed and
/// file. Prints one `FUZZ` summary line either way.
pub fn run<S>(
    target: &str,
    budget: &Budget,
    strategy: S,
    to_bytes: fn(&S::Value) -> Vec<u8>,
    check: impl Fn(S::Value) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: Debug,
{
    let started = Instant::now();
    let mut cases: u64 = 0;
    let mut seed = budget.first_seed;
    loop {
        let config = Config {
            cases: budget.cases_per_seed,
            failure_persistence: None,
            max_shrink_iters: 4096,
            rng_algorithm: RngAlgorithm::ChaCha,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng_for(seed));
        match runner.run(&strategy, &check) {
            Ok(()) => cases += u64::from(budget.cases_per_seed),
            Err(TestError::Fail(why, input)) => {
                let dir = &budget.failure_dir;
                let file = dir.join(format!("{target}-seed-{seed}.bin"));
                let saved = std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&file, to_bytes(&input)));
                println!(
                    "FUZZ target={target} cases={cases} seconds={:.1} failures=1 seed={seed}",
                    started.elapsed().as_secs_f64()
                );
                panic!(
                    "{target}: {why}\nseed {seed} (replay: FUZZ_SEED={seed} FUZZ_CASES={})\ninput saved to {} ({saved:?})\nminimal input: {input:?}",
                    budget.cases_per_seed,
                    file.display()
                );
            }
            Err(TestError::Abort(why)) => panic!("{target}: aborted at seed {seed}: {why}"),
        }
        seed = seed.wrapping_add(1);
        let done = match budget.time {
            None => true,
            Some(limit) => started.elapsed() >= limit,
        };
        if done {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "FUZZ target={target} cases={cases} seconds={secs:.1} cases_per_sec={:.0} failures=0 seeds={}..={}",
        cases as f64 / secs.max(1e-9),
        budget.first_seed,
        seed.wrapping_sub(1)
    );
}
