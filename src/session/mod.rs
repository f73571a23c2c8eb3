//! The session: one owner per process ([`Session`], started as a
//! [`SessionOwner`]) that every part asks — the worker and the headless
//! commands, `watch`, the proxy and the TUI.
//!
//! ```text
//!                    ┌──────────────── Session (owner) ─────────────────┐
//!  worker queries ──▶│ ticket: decorations of version N   (lend.rs)     │
//!  proxy requests ──▶│ absorb: Set-Cookie → version N+1                 │──▶ vault
//!  check / spaces ──▶│ judge:  superseded? resend : end once            │    (saver,
//!                    │ verify (verify.rs) · import/clear/token          │     reads)
//!  v, check --retry ▶│   (staging.rs: stage → trial → commit)           │──▶ audit log
//!                    │ one keep-alive + vault watch + browser watch     │
//!                    │   (keepalive.rs)                                 │──▶ notify cmd
//!                    └──────────┬───────────────────────────────────────┘
//!                               │ Snapshot (state.rs): one value, every change
//!                               ▼
//!             TUI header and rows · watch lines · proxy stderr · check
//! ```
//!
//! Credentials travel as [`Decorations`](crate::confluence::client::Decorations)
//! lent per request; a request reports its answer with the version it
//! carried, so an answer to a superseded version never ends the session.

pub(crate) mod audit_words;
mod browser_watch;
pub mod identity;
mod keepalive;
mod lend;
pub mod notify;
mod owner;
mod staging;
pub mod state;
mod trial;
mod vault_sync;
mod vault_watch;
mod verify;

pub use browser_watch::BrowserWatchError;
pub(crate) use browser_watch::watch_browser;
pub use keepalive::keepalive_delay;
pub use lend::gateway_message;
pub use notify::Notifier;
pub use owner::{FirstCheck, Session, SessionConfig, SessionOwner, Watch};
pub use staging::{Imported, Verify};
pub use state::{Cause, EXPIRING_WITHIN, NextCheck, SessionState, Snapshot, StateWord};
pub use trial::TokenRefused;
pub use trial::{TokenAccepted, check_token};
pub(crate) use vault_watch::watch_vault;
pub use verify::Ask;

use crate::exit::ErrorClass;

/// A failure of the session's work, with the class that decides how it is
/// shown and its exit code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SessionError {
    pub class: ErrorClass,
    /// A sentence for a person; never a secret.
    pub message: String,
}

impl SessionError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> SessionError {
        SessionError {
            class,
            message: message.into(),
        }
    }
}
