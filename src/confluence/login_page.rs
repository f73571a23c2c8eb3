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
    let outcome = gateway_login_checked(gateway_if_off_site(outcome, api_base), api_base);
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

/// A gateway's sign-in URL, absolute, kept only on the gateway's own host:
/// the site's host, a Cloudflare Access team domain, Microsoft's sign-in.
/// Any other host may be a look-alike page: dropped (opening the site in
/// the browser leads to the real sign-in anyway).
fn gateway_login_checked(outcome: Outcome, api_base: &Url) -> Outcome {
    let Outcome::GatewaySignIn {
        gateway,
        login_url: Some(given),
        status,
    } = outcome
    else {
        return outcome;
    };
    let login_url = api_base.join(given.trim()).ok().filter(|u| {
        let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
        let on_site = u.origin() == api_base.origin();
        let https = u.scheme() == "https";
        on_site
            || https
                && match gateway {
                    Gateway::CloudflareAccess => host.ends_with(".cloudflareaccess.com"),
                    Gateway::MicrosoftEntra => host == "login.microsoftonline.com",
                    _ => false,
                }
    });
    Outcome::GatewaySignIn {
        gateway,
        login_url: login_url.map(|u| u.to_string()),
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

    fn gateway(gateway: Gateway, login_url: &str) -> Outcome {
        Outcome::GatewaySignIn {
            gateway,
            login_url: Some(login_url.into()),
            status: 302,
        }
    }

    fn login_of(o: Outcome) -> (Gateway, Option<String>) {
        match o {
            Outcome::GatewaySignIn {
                gateway, login_url, ..
            } => (gateway, login_url),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_gateway_login_is_offered_only_on_the_gateways_own_host() {
        let base = Url::parse("https://wiki.acme.com/confluence").unwrap();
        let keep = |o| login_of(keep_on_site(o, &base, Deployment::Server));
        // The site's own host (F5 serves its sign-in there), made absolute.
        assert_eq!(
            keep(gateway(Gateway::F5, "/my.policy")),
            (Gateway::F5, Some("https://wiki.acme.com/my.policy".into()))
        );
        // Cloudflare Access's team domain, Microsoft's sign-in.
        let cf = "https://acme.cloudflareaccess.com/cdn-cgi/access/login/wiki.acme.com";
        assert_eq!(
            keep(gateway(Gateway::CloudflareAccess, cf)),
            (Gateway::CloudflareAccess, Some(cf.into()))
        );
        let ms = "https://login.microsoftonline.com/t/oauth2/authorize";
        assert_eq!(
            keep(gateway(Gateway::MicrosoftEntra, ms)),
            (Gateway::MicrosoftEntra, Some(ms.into()))
        );
        // A Cloudflare-looking path on someone else's host, or plain http
        // to a team domain: named, never offered.
        for bad in [
            "https://evil.example/cdn-cgi/access/login/x",
            "http://acme.cloudflareaccess.com/cdn-cgi/access/login/x",
            "https://cloudflareaccess.com.evil.example/cdn-cgi/access/login/x",
        ] {
            assert_eq!(
                keep(gateway(Gateway::CloudflareAccess, bad)),
                (Gateway::CloudflareAccess, None),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_redirect_to_another_host_is_that_hosts_sign_in_not_offered() {
        let base = Url::parse("https://wiki.acme.com/confluence").unwrap();
        let o = Outcome::Redirect {
            status: 302,
            location: "https://sso.acme.com/start?app=wiki".into(),
        };
        assert_eq!(
            login_of(keep_on_site(o, &base, Deployment::Server)),
            (
                Gateway::Other {
                    host: "sso.acme.com".into()
                },
                None
            )
        );
        // Atlassian's own account site is Cloud's login, not a gateway.
        let o = Outcome::SessionExpired {
            reason: ExpiryReason::LoginRedirect {
                location: "https://id.atlassian.com/login".into(),
            },
            status: 302,
        };
        assert!(matches!(
            keep_on_site(o, &base, Deployment::Cloud),
            Outcome::SessionExpired { .. }
        ));
    }
}
