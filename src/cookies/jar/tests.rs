//! Unit tests of the cookie set and its expiry.

use super::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

fn cookie_expiring(name: &str, value: &str, expires: Option<OffsetDateTime>) -> Cookie {
    let mut c = Cookie::new(name, value);
    c.expires = expires;
    c
}

/// A `Set-Cookie` answered by the site `https://x.atlassian.net/wiki`.
fn merge_at(j: &mut CookieJar, header: &str, now: OffsetDateTime) -> Option<String> {
    let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
    let from = Url::parse("https://x.atlassian.net/wiki/rest/api/space").unwrap();
    j.merge_set_cookie_at(
        header,
        Answer {
            from: &from,
            site: &site,
        },
        now,
    )
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
    let name = merge_at(
        &mut j,
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
    let name = merge_at(
        &mut j,
        "JSESSIONID=new; Expires=Wed, 05 Mar 2025 10:00:00 GMT",
        NOW,
    );
    assert_eq!(name.as_deref(), Some("JSESSIONID"));
    assert_eq!(j.session_expiry(), Some(datetime!(2025-03-05 10:00 UTC)));
}

#[test]
fn set_cookie_ignores_unknown_names_deletions_and_no_change() {
    let mut j = jar(vec![Cookie::new("JSESSIONID", "keep")]);
    assert_eq!(merge_at(&mut j, "tracker=1", NOW), None);
    assert_eq!(merge_at(&mut j, "JSESSIONID=; Max-Age=0", NOW), None);
    assert_eq!(merge_at(&mut j, "JSESSIONID=gone; Max-Age=0", NOW), None);
    assert_eq!(
        merge_at(
            &mut j,
            "JSESSIONID=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ),
        None
    );
    assert_eq!(merge_at(&mut j, "JSESSIONID=keep", NOW), None);
    assert_eq!(merge_at(&mut j, "not a cookie", NOW), None);
    assert_eq!(j.names(), ["JSESSIONID"]);
    assert_eq!(j.header_value().expose_secret(), "JSESSIONID=keep");
}

#[test]
fn set_cookie_for_another_domain_a_public_suffix_or_too_large_is_ignored() {
    let mut j = jar(vec![Cookie::new("cloud.session.token", "keep")]);
    for header in [
        "cloud.session.token=evil; Domain=evil.example.com; Path=/".to_string(),
        "cloud.session.token=evil; Domain=y.atlassian.net".to_string(),
        "cloud.session.token=evil; Domain=.net".to_string(),
        format!("cloud.session.token={}", "x".repeat(100 * 1024)),
        format!("cloud.session.token={}", "x".repeat(4096)),
    ] {
        assert_eq!(merge_at(&mut j, &header, NOW), None, "{}", &header[..40]);
    }
    assert_eq!(j.header_value().expose_secret(), "cloud.session.token=keep");
    // The site's own domain (and its parent, not a public suffix) is fine.
    let name = merge_at(
        &mut j,
        "cloud.session.token=new; Domain=.atlassian.net",
        NOW,
    );
    assert_eq!(name.as_deref(), Some("cloud.session.token"));
}

#[test]
fn the_request_header_carries_only_matching_cookies() {
    let mut j = jar(vec![Cookie::new("site", "1")]);
    let mut other = Cookie::new("other", "2");
    other.domain = Some(".google.com".into());
    let mut jira = Cookie::new("jira", "3");
    jira.domain = Some("x.atlassian.net".into());
    jira.path = Some("/jira".into());
    let mut wiki = Cookie::new("wiki", "4");
    wiki.domain = Some(".atlassian.net".into());
    wiki.path = Some("/wiki".into());
    wiki.secure = true;
    for c in [other, jira, wiki] {
        j.insert(c);
    }
    let header = |url: &str| {
        j.header_value_for(&Url::parse(url).unwrap())
            .map(|h| h.expose_secret().to_string())
    };
    assert_eq!(
        header("https://x.atlassian.net/wiki/rest/api/space").as_deref(),
        Some("site=1; wiki=4")
    );
    assert_eq!(
        header("https://x.atlassian.net/").as_deref(),
        Some("site=1")
    );
    assert_eq!(
        header("http://x.atlassian.net/wiki/x").as_deref(),
        Some("site=1"),
        "a secure cookie never goes over plain http"
    );
    // A cookie without a domain is the site's; the jar itself is only ever
    // offered to the site's origin (`confluence::auth::auth_headers`).
    assert_eq!(
        header("https://www.google.com/").as_deref(),
        Some("site=1; other=2")
    );
    let mut foreign = jar(vec![]);
    foreign.insert(j.get("jira").unwrap().clone());
    assert!(
        foreign
            .header_value_for(&Url::parse("https://x.atlassian.net/wiki").unwrap())
            .is_none(),
        "no matching cookie, no header"
    );
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
