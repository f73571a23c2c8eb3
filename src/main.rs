//! confluence-tui: CLI parsing and dispatch; nothing else.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser;
use confluence_tui::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = cli::run(cli);
    ExitCode::from(code.as_u8())
}
