//! Pieces shared by the screens: the filter field and a filtered,
//! sorted, virtualised list, text cut or wrapped to its columns, the name
//! of a time zone.

pub(crate) mod filter;
pub(crate) mod fit;
pub(crate) mod list;
pub(crate) mod wrap;
pub(crate) mod zone;
