//! Talking to Confluence: the HTTP client, response classification, the
//! model, and paging.

pub mod classify;
pub mod client;
pub mod model;
pub mod paging;
