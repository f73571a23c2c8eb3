//! Pieces shared by the screens: the filter field and a filtered,
//! sorted, virtualised list.

pub(crate) mod filter;
pub(crate) mod fit;
pub(crate) mod list;
