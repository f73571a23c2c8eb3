//! Pieces shared by the screens: the filter field and a filtered,
//! sorted, virtualised list.

pub mod filter;
pub mod list;
