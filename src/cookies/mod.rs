//! Cookies: parsing every accepted paste format, the cookie set and its
//! expiry, and the plain-text intake file.

pub mod jar;
