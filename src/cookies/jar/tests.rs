//! Unit tests of the cookie set and its expiry.

use super::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

fn cookie_expiring(name: &str, value: &str, expires: Option<OffsetDateTime>) -> Cookie {
    let mut c = Cookie::new(name, value);
    c.expires = expires;
    c
}

fn jar(cookies: Vec<Cookie>) -> CookieJar {
    let mut jar = CookieJar::new();
    for c in cookies {
        jar.insert(c);
    }
    jar
}

#[test]
fn insert_replaces_same_name_in_place() {
    let mut j = jar(vec![Cookie::new("a", "1"), Cookie::new("b", "2")]);
    let old = j.insert(Cookie::new("a", "3"));
    assert_eq!(
        old.map(|c| c.value.expose_secret().to_owned()),
        Some("1".into())
    );
    assert_eq!(j.names(), ["a", "b"]);
    assert_eq!(j.header_value().expose_secret(), "a=3; b=2");
    assert_eq!(j.len(), 2);
}

#[test]
fn session_cookies_are_detected_by_name() {
    let j = jar(vec![Cookie::new("x", "1"), Cookie::new("JSESSIONID", "2")]);
    assert!(j.has_session_cookie());
    assert_eq!(j.session_cookie_names(), ["JSESSIONID"]);
    assert!(!jar(vec![Cookie::new("jsessionid", "2")]).has_session_cookie());
}

#[test]
fn session_expiry_is_earliest_among_session_cookies_only() {
    let j = jar(vec![
        cookie_expiring("other", "x", Some(NOW + Duration::hours(1))),
        cookie_expiring("cloud.session.token", "x", Some(NOW + Duration::days(3))),
        cookie_expiring("tenant.session.token", "x", Some(NOW + Duration::days(2))),
    ]);
    assert_eq!(j.session_expiry(), Some(NOW + Duration::days(2)));
}

#[test]
fn ttl_limits_expiry_when_session_cookie_lives_longer() {
    let j = jar(vec![cookie_expiring(
        "cloud.session.token",
        "x",
        Some(NOW + Duration::days(30)),
    )]);
    let s = StoredCookies::new(j, CookieSource::Paste, NOW, Duration::days(14));
    assert_eq!(s.expires_at, NOW + Duration::days(14));
    assert_eq!(
        s.expiry_state(NOW + Duration::days(14)),
        ExpiryState::ExpiredByAge
    );
}

#[test]
fn session_cookie_expiry_wins_when_earlier_than_ttl() {
    let j = jar(vec![cookie_expiring(
        "JSESSIONID",
        "x",
        Some(NOW + Duration::days(2)),
    )]);
    let s = StoredCookies::new(j, CookieSource::Paste, NOW, Duration::days(14));
    assert_eq!(s.expires_at, NOW + Duration::days(2));
    assert_eq!(
        s.expiry_state(NOW + Duration::days(1)),
        ExpiryState::Valid {
            left: Duration::days(1)
        }
    );
    assert_eq!(
        s.expiry_state(NOW + Duration::hours(30)),
        ExpiryState::ExpiresSoon {
            left: Duration::hours(18)
        }
    );
    assert_eq!(
        s.expiry_state(NOW + Duration::days(2)),
        ExpiryState::ExpiredBySession
    );
    assert!(s.is_usable(NOW + Duration::hours(47)));
    assert!(!s.is_usable(NOW + Duration::days(2)));
}

#[test]
fn mark_expired_reports_only_the_first_time_and_wins() {
    let mut s = StoredCookies::new(
        jar(vec![Cookie::new("JSESSIONID", "x")]),
        CookieSource::IntakeFile,
        NOW,
        Duration::days(14),
    );
    assert!(s.is_usable(NOW));
    assert!(s.mark_expired(NOW, "HTTP 401"));
    assert!(!s.mark_expired(NOW + Duration::hours(1), "HTTP 403"));
    assert_eq!(
        s.expiry_state(NOW),
        ExpiryState::MarkedExpired {
            reason: "HTTP 401".into()
        }
    );
    assert!(!s.is_usable(NOW));
}

#[test]
fn set_cookie_refreshes_known_cookie_value_and_expiry() {
    let mut j = jar(vec![
        Cookie::new("a", "1"),
        Cookie::new("cloud.session.token", "old"),
    ]);
    let name = j.merge_set_cookie_at(
        "cloud.session.token=new; Path=/; Max-Age=3600; Secure; HttpOnly",
        NOW,
    );
    assert_eq!(name.as_deref(), Some("cloud.session.token"));
    let c = j
        .get("cloud.session.token")
        .map(|c| (c.value.expose_secret().to_owned(), c.expires));
    assert_eq!(c, Some(("new".into(), Some(NOW + Duration::hours(1)))));
    assert_eq!(j.names(), ["a", "cloud.session.token"]);
}

#[test]
fn set_cookie_with_expires_date_sets_that_expiry() {
    let mut j = jar(vec![Cookie::new("JSESSIONID", "old")]);
    let name = j.merge_set_cookie_at("JSESSIONID=new; Expires=Wed, 05 Mar 2025 10:00:00 GMT", NOW);
    assert_eq!(name.as_deref(), Some("JSESSIONID"));
    assert_eq!(j.session_expiry(), Some(datetime!(2025-03-05 10:00 UTC)));
}

#[test]
fn set_cookie_ignores_unknown_names_deletions_and_no_change() {
    let mut j = jar(vec![Cookie::new("JSESSIONID", "keep")]);
    assert_eq!(j.merge_set_cookie_at("tracker=1", NOW), None);
    assert_eq!(j.merge_set_cookie_at("JSESSIONID=; Max-Age=0", NOW), None);
    assert_eq!(
        j.merge_set_cookie_at("JSESSIONID=gone; Max-Age=0", NOW),
        None
    );
    assert_eq!(
        j.merge_set_cookie_at(
            "JSESSIONID=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ),
        None
    );
    assert_eq!(j.merge_set_cookie_at("JSESSIONID=keep", NOW), None);
    assert_eq!(j.merge_set_cookie_at("not a cookie", NOW), None);
    assert_eq!(j.names(), ["JSESSIONID"]);
    assert_eq!(j.header_value().expose_secret(), "JSESSIONID=keep");
}

#[test]
fn time_left_uses_two_units() {
    assert_eq!(
        format_time_left(Duration::days(13) + Duration::hours(4) + Duration::minutes(9)),
        "13 d 4 h"
    );
    assert_eq!(
        format_time_left(Duration::hours(3) + Duration::minutes(12)),
        "3 h 12 min"
    );
    assert_eq!(
        format_time_left(Duration::minutes(5) + Duration::seconds(3)),
        "5 min 3 s"
    );
    assert_eq!(format_time_left(Duration::seconds(42)), "42 s");
    assert_eq!(format_time_left(Duration::seconds(-5)), "0 s");
}

#[test]
fn debug_of_cookie_and_jar_hides_values() {
    let j = jar(vec![Cookie::new("JSESSIONID", "SENTINEL-jar-value")]);
    assert!(!format!("{j:?}").contains("SENTINEL"));
    let s = StoredCookies::new(j, CookieSource::Paste, NOW, Duration::days(1));
    assert!(!format!("{s:?}").contains("SENTINEL"));
}
