//! Cookies: parsing every accepted paste format, the cookie set and its
//! expiry, the plain-text intake file, and writing a set out for another
//! program (`export`).

pub mod export;
pub mod intake;
pub mod jar;
pub mod parse;
pub mod scope;

pub use jar::{Cookie, CookieJar, CookieSource, ExpiryState, StoredCookies};
pub use parse::{
    CookieParseError, ParseWarning, ParsedCookies, PasteFormat, parse_cookies,
    parse_cookies_for_site,
};
