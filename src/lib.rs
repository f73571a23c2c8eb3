//! confluence-tui: keeps a Confluence data pipeline signed in.
//!
//! Data flows one way: config → vault/cookies → confluence client → worker →
//! TUI or CLI.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod confluence;
pub mod cookies;
pub mod credentials;
pub mod demo;
pub mod exit;
pub mod fsutil;
pub mod logging;
pub mod secret;
pub mod tui;
pub mod vault;
pub mod worker;
