//! Which redirects the client follows: same-origin ones that do not lead to a
//! login page. A login redirect is an answer to classify (the session died),
//! and another host never gets the credentials.

use url::Url;

use super::classify::is_login_url;

/// Redirects followed in a row before the answer is taken as it is.
const MAX_REDIRECTS: usize = 5;

/// The redirect policy for a client of the site at `site`.
pub(crate) fn policy(site: Url) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if should_follow(&site, attempt.url(), attempt.previous().len()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// True when a redirect to `next`, after `hops` earlier ones, stays on the
/// site's origin and is not a login page.
fn should_follow(site: &Url, next: &Url, hops: usize) -> bool {
    next.origin() == site.origin() && !is_login_url(next.as_str()) && hops < MAX_REDIRECTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_same_origin_non_login_redirects_are_followed() {
        let site = url("https://c.example.com/confluence");
        assert!(should_follow(
            &site,
            &url("https://c.example.com/confluence/rest/api/space?start=25"),
            0
        ));
        for stop in [
            "https://evil.example.com/confluence/rest/api/space",
            "http://c.example.com/confluence/rest/api/space",
            "https://c.example.com/login.action?os_destination=x",
            "https://c.example.com/plugins/servlet/samlsso",
            "https://c.example.com/oauth2/authorize",
        ] {
            assert!(!should_follow(&site, &url(stop), 0), "{stop}");
        }
        assert!(!should_follow(
            &site,
            &url("https://c.example.com/confluence/x"),
            MAX_REDIRECTS
        ));
    }
}
