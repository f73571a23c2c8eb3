//! Talking to Confluence: the HTTP client and its parts (credentials,
//! retries, redirects, cookie refresh, errors), response classification, the
//! model, and paging.

pub(crate) mod auth;
pub mod authority;
pub mod classify;
pub mod client;
pub(crate) mod error;
pub(crate) mod login_page;
pub mod model;
pub(crate) mod paging;
pub mod probe;
mod redirect;
pub(crate) mod retry;
pub mod tls;
