//! Fault knobs of the demo site: the ways a real Confluence misbehaves, each
//! switchable at runtime so tests can provoke every branch of the client.

use std::time::Duration;

/// Which CAPTCHA answer Server/DC gives once it wants a browser sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaForm {
    /// 403 with `X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE; login-url=…`.
    Header403,
    /// 401 with `X-Seraph-LoginReason: AUTHENTICATION_DENIED`.
    Seraph401,
}

/// Every misbehaviour the demo site can show. `Default` is a healthy site.
///
/// Knobs that shape *how a missing or dead session is answered*
/// (`redirect_to_login`, `html_login_page`, `expired_403`) apply only to
/// requests that are not validly signed in, like a real site. Knobs that
/// describe the site's health (`latency`, `captcha`, `rate_limit_every`,
/// `error_rate`, `anonymous`) apply to every API request.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoFaults {
    /// Delay added before every API request is answered.
    pub latency: Duration,
    /// The issued session cookie dies after this many requests signed in with it.
    pub session_expire_after_requests: Option<u64>,
    /// The issued session cookie dies this long after it was issued.
    pub session_expire_after: Option<Duration>,
    /// The issued session cookie dies after this long without a request
    /// signed in with it (Data Center's idle timeout).
    pub session_idle_timeout: Option<Duration>,
    /// Answer every API request with this CAPTCHA challenge until a sign-in
    /// through the `/login` form clears it.
    pub captcha: Option<CaptchaForm>,
    /// The `login-url` the `Header403` CAPTCHA names instead of the site's
    /// own login page (e.g. a page on another host).
    pub captcha_login_url: Option<String>,
    /// Every Nth API request is answered 429.
    pub rate_limit_every: Option<u64>,
    /// The `Retry-After` seconds sent with a 429 (absurd values allowed).
    pub retry_after_secs: u64,
    /// Share (0.0–1.0) of API requests answered 502/503/504.
    pub error_rate: f64,
    /// Seed of the RNG that picks which requests fail.
    pub seed: u64,
    /// Unauthenticated requests get a 302 to `/login.action?os_destination=…`.
    pub redirect_to_login: bool,
    /// Unauthenticated requests get a 200 HTML login page instead of JSON.
    pub html_login_page: bool,
    /// Unauthenticated requests get the 403 "not permitted" JSON.
    pub expired_403: bool,
    /// Every request runs as the anonymous user.
    pub anonymous: bool,
    /// Every cookie-authenticated request rotates the session cookie.
    pub rotate_cookies: bool,
    /// How many more requests a session value superseded by a rotation is
    /// still accepted for; 0 refuses it at once (a strict site, where
    /// requests racing a rotation are refused).
    pub rotation_grace: u32,
    /// Space keys whose pages answer 403 even when signed in.
    pub forbidden_spaces: Vec<String>,
    /// Silent cap on v1 `limit`, as Server/DC applies (e.g. 100 when 250 asked).
    pub cap_limit: Option<usize>,
    /// Space lists never end: every page links back to the first one (v2
    /// cursor) or claims to start at 0 again (v1).
    pub paging_loops: bool,
    /// Names, titles, the display name and error messages carry terminal
    /// control sequences (`demo::HOSTILE_SUFFIX`, see `demo/hostile.rs`).
    pub hostile_text: bool,
    /// Every signed-in answer also carries two `Set-Cookie`s for the session
    /// cookie that a client must refuse: one with `Domain=evil.example.com`
    /// and one with a 100 KB value (`HOSTILE_SET_COOKIE_VALUE_BYTES`).
    pub hostile_set_cookies: bool,
    /// Size of every attachment download
    /// (`…/download/attachments/{page_id}/{name}`), generated on the fly.
    pub attachment_bytes: u64,
    /// API tokens are disabled (an SSO site): every `Authorization` header,
    /// even the demo's own token, is refused; only session cookies work.
    pub tokens_disabled: bool,
}

/// Size of an attachment download unless configured otherwise.
pub const DEFAULT_ATTACHMENT_BYTES: u64 = 1024 * 1024;

/// Size of the oversized session value `hostile_set_cookies` sends.
pub const HOSTILE_SET_COOKIE_VALUE_BYTES: usize = 100 * 1024;

/// How many requests an old cookie value stays valid after a rotation,
/// unless configured otherwise.
pub const ROTATION_GRACE_REQUESTS: u32 = 2;
/// `Retry-After` sent with 429 unless configured otherwise.
pub(crate) const DEFAULT_RETRY_AFTER_SECS: u64 = 2;

impl Default for DemoFaults {
    fn default() -> Self {
        DemoFaults {
            latency: Duration::ZERO,
            session_expire_after_requests: None,
            session_expire_after: None,
            session_idle_timeout: None,
            captcha: None,
            captcha_login_url: None,
            rate_limit_every: None,
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            error_rate: 0.0,
            seed: 0,
            redirect_to_login: false,
            html_login_page: false,
            expired_403: false,
            anonymous: false,
            rotate_cookies: false,
            rotation_grace: ROTATION_GRACE_REQUESTS,
            forbidden_spaces: Vec::new(),
            cap_limit: None,
            paging_loops: false,
            hostile_text: false,
            hostile_set_cookies: false,
            attachment_bytes: DEFAULT_ATTACHMENT_BYTES,
            tokens_disabled: false,
        }
    }
}

impl DemoFaults {
    /// The 5xx status the `request_number`th request gets, if the error knob
    /// picks it; deterministic for a given seed and request order.
    pub(crate) fn injected_error(&self, request_number: u64) -> Option<u16> {
        if self.error_rate <= 0.0 {
            return None;
        }
        // A fresh RNG per request keyed by its number keeps the choice
        // independent of timing and of which other knobs are on.
        let mut rng = fastrand::Rng::with_seed(
            self.seed ^ request_number.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        if rng.f64() < self.error_rate {
            Some([502, 503, 504][rng.usize(..3)])
        } else {
            None
        }
    }

    /// Whether the `request_number`th request (1-based) is rate limited.
    pub(crate) fn is_rate_limited(&self, request_number: u64) -> bool {
        matches!(self.rate_limit_every, Some(n) if n > 0 && request_number.is_multiple_of(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_choice_is_deterministic_and_near_the_rate() {
        let f = DemoFaults {
            error_rate: 0.3,
            seed: 42,
            ..DemoFaults::default()
        };
        let a: Vec<_> = (1..=1000).map(|n| f.injected_error(n)).collect();
        let b: Vec<_> = (1..=1000).map(|n| f.injected_error(n)).collect();
        assert_eq!(a, b);
        let failed = a.iter().filter(|e| e.is_some()).count();
        assert!((200..400).contains(&failed), "{failed} of 1000 failed");
        assert!(a.iter().flatten().all(|s| [502, 503, 504].contains(s)));
    }

    #[test]
    fn zero_rate_never_fails_and_rate_limit_hits_every_nth() {
        let f = DemoFaults {
            rate_limit_every: Some(3),
            ..DemoFaults::default()
        };
        assert!((1..500).all(|n| f.injected_error(n).is_none()));
        let limited: Vec<u64> = (1..=9).filter(|&n| f.is_rate_limited(n)).collect();
        assert_eq!(limited, vec![3, 6, 9]);
    }
}
