//! confluence-tui: keeps a Confluence data pipeline signed in.
//!
//! Data flows one way: config → vault/cookies → confluence client → worker →
//! TUI or CLI.

pub mod config;
pub mod cookies;
pub mod demo;
pub mod secret;
pub mod vault;
