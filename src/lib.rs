//! confluence-tui: keeps a Confluence data pipeline signed in.
//!
//! Data flows one way: config → vault/cookies → confluence client → worker →
//! TUI or CLI.

// "No unwrap" is a rule the compiler keeps: outside tests, a failure is an
// error value with a message, never a panic.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub(crate) mod auth;
pub mod browser;
pub mod cli;
pub mod config;
pub mod confluence;
pub mod cookies;
pub mod credentials;
pub mod demo;
pub mod exec;
pub mod exit;
pub mod fsutil;
pub(crate) mod logging;
pub mod proxy;
pub mod secret;
pub mod session;
pub mod site;
pub mod text;
pub mod tui;
pub mod vault;
pub mod worker;
