//! Pieces shared by the screens: the filter field and a filtered,
//! sorted, virtualised list, text cut or wrapped to its columns.

pub(crate) mod filter;
pub(crate) mod fit;
pub(crate) mod list;
pub(crate) mod wrap;
