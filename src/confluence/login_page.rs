//! Where the user is sent to sign in: the site's own login page, and the
//! rule for a CAPTCHA's `login-url` — offered only when it is on the site's
//! origin (scheme, host and port); an off-site one is dropped for the site's
//! own login page, so a hostile header cannot send the user (or the TUI's
//! `o`) to a look-alike page.

use url::Url;

use super::classify::{ExpiryReason, Gateway, Outcome};
use super::client::Deployment;

/// The site's own login page: `/login` at the origin on Cloud,
/// `{base}/login.action` on Server/Data Center.
pub(crate) fn site_login_page(api_base: &Url, deployment: Deployment) -> String {
    match deployment {
        Deployment::Cloud => format!("{}/login", api_base.origin().ascii_serialization()),
        Deployment::Server => {
            format!("{}/login.action", api_base.as_str().trim_end_matches('/'))
        }
    }
}

/// A CAPTCHA outcome with its login URL checked against the site at
/// `api_base`: kept (absolute, re-serialised) when on the site's origin,
/// otherwise replaced by the site's own login page and marked as ignored.
/// Every other outcome passes unchanged.
pub(crate) fn keep_on_site(outcome: Outcome, api_base: &Url, deployment: Deployment) -> Outcome {
    let outcome = gateway_if_off_site(outcome, api_base);
    let Outcome::Captcha {
        status,
        login_url: Some(given),
        off_site_login_ignored,
    } = outcome
    else {
        return outcome;
    };
    match api_base.join(given.trim()) {
        Ok(u) if u.origin() == api_base.origin() => Outcome::Captcha {
            status,
            login_url: Some(u.to_string()),
            off_site_login_ignored,
        },
        _ => {
            // The URL itself is server text from another origin: not logged.
            tracing::warn!("a CAPTCHA named a login URL off the site; offering the site's own");
            Outcome::Captcha {
                status,
                login_url: Some(site_login_page(api_base, deployment)),
                off_site_login_ignored: true,
            }
        }
    }
}

/// A redirect (to a sign-in or anywhere) on another host than the site's is
/// a gateway's sign-in, not Confluence's: Atlassian's own account site
/// (`id.atlassian.com`, any `*.atlassian.com`) aside, which is Cloud's own
/// login.
fn gateway_if_off_site(outcome: Outcome, api_base: &Url) -> Outcome {
    let (status, location) = match &outcome {
        Outcome::SessionExpired {
            reason: ExpiryReason::LoginRedirect { location },
            status,
        } => (*status, location.clone()),
        Outcome::Redirect { status, location } => (*status, location.clone()),
        _ => return outcome,
    };
    let Ok(target) = api_base.join(location.trim()) else {
        return outcome;
    };
    let host = target.host_str().unwrap_or_default().to_ascii_lowercase();
    let site_host = api_base.host_str().unwrap_or_default().to_ascii_lowercase();
    let atlassian = host == "atlassian.com" || host.ends_with(".atlassian.com");
    if host == site_host || atlassian || host.is_empty() {
        return outcome;
    }
    Outcome::GatewaySignIn {
        gateway: Gateway::Other { host },
        login_url: Some(target.to_string()),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captcha(login_url: Option<&str>) -> Outcome {
        Outcome::Captcha {
            status: 403,
            login_url: login_url.map(str::to_string),
            off_site_login_ignored: false,
        }
    }

    #[test]
    fn the_site_login_page_follows_the_deployment() {
        let cloud = Url::parse("https://x.atlassian.net/wiki").unwrap();
        assert_eq!(
            site_login_page(&cloud, Deployment::Cloud),
            "https://x.atlassian.net/login"
        );
        let dc = Url::parse("https://c.example.com/confluence").unwrap();
        assert_eq!(
            site_login_page(&dc, Deployment::Server),
            "https://c.example.com/confluence/login.action"
        );
    }

    #[test]
    fn an_on_site_captcha_login_url_is_kept() {
        let site = Url::parse("https://c.example.com/confluence").unwrap();
        for (given, kept) in [
            (
                "https://c.example.com/confluence/login.action?os_destination=x",
                "https://c.example.com/confluence/login.action?os_destination=x",
            ),
            (
                "https://C.EXAMPLE.COM:443/login.action",
                "https://c.example.com/login.action",
            ),
            ("/login.action", "https://c.example.com/login.action"),
        ] {
            assert_eq!(
                keep_on_site(captcha(Some(given)), &site, Deployment::Server),
                captcha(Some(kept)),
                "{given}"
            );
        }
        assert_eq!(
            keep_on_site(captcha(None), &site, Deployment::Server),
            captcha(None)
        );
    }

    #[test]
    fn an_off_site_captcha_login_url_is_replaced_by_the_site_s_own() {
        let site = Url::parse("https://c.example.com/confluence").unwrap();
        for given in [
            "https://evil.example.com/login",
            "http://c.example.com/confluence/login.action",
            "https://c.example.com:8443/login.action",
            "//evil.example.com/login",
            "https://c.example.com.evil.example/login",
            "javascript:alert(1)",
            "https://[bad",
        ] {
            assert_eq!(
                keep_on_site(captcha(Some(given)), &site, Deployment::Server),
                Outcome::Captcha {
                    status: 403,
                    login_url: Some("https://c.example.com/confluence/login.action".into()),
                    off_site_login_ignored: true,
                },
                "{given}"
            );
        }
    }

    #[test]
    fn other_outcomes_pass_unchanged() {
        let site = Url::parse("https://c.example.com").unwrap();
        assert_eq!(
            keep_on_site(Outcome::Anonymous, &site, Deployment::Server),
            Outcome::Anonymous
        );
    }
}
