//! How a time zone is named next to the times shown in it (the audit log,
//! the proxy's request log).

use time::UtcOffset;

/// How a time zone is named on screen: `UTC`, `+01:00`, `-03:30`.
pub(crate) fn zone_name(offset: UtcOffset) -> String {
    if offset.is_utc() {
        "UTC".into()
    } else {
        let (h, m, _) = offset.as_hms();
        format!(
            "{}{:02}:{:02}",
            if offset.is_negative() { '-' } else { '+' },
            h.abs(),
            m.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_are_readable() {
        assert_eq!(zone_name(UtcOffset::UTC), "UTC");
        let cet = UtcOffset::from_hms(1, 0, 0).unwrap();
        assert_eq!(zone_name(cet), "+01:00");
        let nst = UtcOffset::from_hms(-3, -30, 0).unwrap();
        assert_eq!(zone_name(nst), "-03:30");
    }
}
