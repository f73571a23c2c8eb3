//! Demo credentials and the one demo browser session: issued by `/login`,
//! dying by request count or age, optionally rotated on every use.

use std::time::Instant;

use super::DemoFlavor;
use super::faults::DemoFaults;

/// Cloud demo account email (public demo value, not a secret).
pub const DEMO_EMAIL: &str = "demo@example.com";
/// Cloud demo API token (public demo value, not a secret).
pub const DEMO_API_TOKEN: &str = "demo-api-token";
/// Server/DC demo personal access token (public demo value, not a secret).
pub const DEMO_PAT: &str = "demo-personal-access-token";
/// Cloud session cookie name.
pub const CLOUD_SESSION_COOKIE: &str = "cloud.session.token";
/// Server/DC session cookie name.
pub const SERVER_SESSION_COOKIE: &str = "JSESSIONID";
/// The XSRF cookie both flavors send alongside the session.
pub(crate) const XSRF_COOKIE: &str = "atlassian.xsrf.token";

/// Who a request runs as, or why it was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Signed in as the demo user; `set_cookie` is a rotated session value to send back.
    User { set_cookie: Option<String> },
    /// Runs as the anonymous user (Server/DC without or with an invalid PAT).
    Anonymous,
    /// Not let in: missing or wrong credentials, or a dead session cookie.
    Rejected,
}

/// Session cookie name for a flavor.
pub(crate) fn session_cookie_name(flavor: DemoFlavor) -> &'static str {
    match flavor {
        DemoFlavor::Cloud => CLOUD_SESSION_COOKIE,
        DemoFlavor::Server => SERVER_SESSION_COOKIE,
    }
}

/// The one demo session and its lifetime bookkeeping.
#[derive(Debug)]
pub struct Session {
    current: String,
    xsrf: String,
    issued_at: Instant,
    /// When a request last came signed in with the session.
    last_used: Instant,
    uses: u64,
    /// The value before the last rotation and how many more uses it gets.
    previous: Option<(String, u32)>,
    /// Ended on purpose (the demo's `x`): dead until the next sign-in.
    ended: bool,
    rng: fastrand::Rng,
}

impl Session {
    /// A fresh session with random values.
    pub fn new() -> Session {
        let mut rng = fastrand::Rng::new();
        let current = new_value(&mut rng);
        let xsrf = format!("demo-xsrf-{:016x}", rng.u64(..));
        Session {
            current,
            xsrf,
            issued_at: Instant::now(),
            last_used: Instant::now(),
            uses: 0,
            previous: None,
            ended: false,
            rng,
        }
    }

    fn is_dead(&self, faults: &DemoFaults) -> bool {
        let by_count = matches!(faults.session_expire_after_requests, Some(n) if self.uses >= n);
        let by_age =
            matches!(faults.session_expire_after, Some(d) if self.issued_at.elapsed() >= d);
        let by_idle =
            matches!(faults.session_idle_timeout, Some(d) if self.last_used.elapsed() >= d);
        self.ended || by_count || by_age || by_idle
    }

    /// Ends the session now, as a site that drops it: its cookies are
    /// refused from now on, and the login page hands out a fresh one.
    pub(crate) fn end(&mut self) {
        self.ended = true;
        self.previous = None;
    }

    /// Starts a new session (a sign-in): the old values die.
    pub(crate) fn renew(&mut self) {
        self.current = new_value(&mut self.rng);
        self.issued_at = Instant::now();
        self.last_used = Instant::now();
        self.uses = 0;
        self.previous = None;
        self.ended = false;
    }

    /// The current session value, renewing it first if it has died, as
    /// visiting the login page of a real site would.
    pub(crate) fn live_value(&mut self, faults: &DemoFaults) -> &str {
        if self.is_dead(faults) {
            self.renew();
        }
        &self.current
    }

    /// The full `Cookie:` header value of the live session.
    pub(crate) fn cookie_header(&mut self, flavor: DemoFlavor, faults: &DemoFaults) -> String {
        let value = self.live_value(faults).to_string();
        format!(
            "{}={value}; {XSRF_COOKIE}={}",
            session_cookie_name(flavor),
            self.xsrf
        )
    }

    /// Checks a presented session value and counts the use.
    pub(crate) fn admit(
        &mut self,
        presented: &str,
        flavor: DemoFlavor,
        faults: &DemoFaults,
    ) -> Caller {
        if let Some((old, grace)) = &mut self.previous
            && presented == old.as_str()
        {
            if *grace == 0 {
                return Caller::Rejected;
            }
            *grace -= 1;
            // Tell the client the fresh value again: it may have missed it.
            return Caller::User {
                set_cookie: Some(self.set_cookie_value(flavor)),
            };
        }
        if presented != self.current || self.is_dead(faults) {
            return Caller::Rejected;
        }
        self.uses += 1;
        self.last_used = Instant::now();
        if !faults.rotate_cookies {
            return Caller::User { set_cookie: None };
        }
        let old = std::mem::replace(&mut self.current, new_value(&mut self.rng));
        self.previous = (faults.rotation_grace > 0).then_some((old, faults.rotation_grace));
        // A refreshed cookie extends the session, which is why clients should
        // persist it.
        self.issued_at = Instant::now();
        self.uses = 0;
        Caller::User {
            set_cookie: Some(self.set_cookie_value(flavor)),
        }
    }

    /// `Set-Cookie` header value carrying the current session.
    pub(crate) fn set_cookie_value(&self, flavor: DemoFlavor) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; Secure",
            session_cookie_name(flavor),
            self.current
        )
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

fn new_value(rng: &mut fastrand::Rng) -> String {
    format!("demo-session-{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// The session value presented in a `Cookie:` header, if any.
pub(crate) fn presented_session(cookie_header: &str, flavor: DemoFlavor) -> Option<&str> {
    let name = session_cookie_name(flavor);
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// `Basic …` header value for the demo Cloud account.
pub(crate) fn demo_basic_header() -> String {
    format!(
        "Basic {}",
        base64(format!("{DEMO_EMAIL}:{DEMO_API_TOKEN}").as_bytes())
    )
}

/// Standard base64 with padding; only used to build the expected Basic value,
/// so the server never has to decode (and possibly echo) what a client sent.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            demo_basic_header(),
            "Basic ZGVtb0BleGFtcGxlLmNvbTpkZW1vLWFwaS10b2tlbg=="
        );
    }

    #[test]
    fn session_dies_after_n_uses_and_renews_on_login() {
        let faults = DemoFaults {
            session_expire_after_requests: Some(2),
            ..DemoFaults::default()
        };
        let mut s = Session::new();
        let v = s.live_value(&faults).to_string();
        assert!(matches!(
            s.admit(&v, DemoFlavor::Cloud, &faults),
            Caller::User { .. }
        ));
        assert!(matches!(
            s.admit(&v, DemoFlavor::Cloud, &faults),
            Caller::User { .. }
        ));
        assert_eq!(s.admit(&v, DemoFlavor::Cloud, &faults), Caller::Rejected);
        let fresh = s.live_value(&faults).to_string();
        assert_ne!(fresh, v);
        assert!(matches!(
            s.admit(&fresh, DemoFlavor::Cloud, &faults),
            Caller::User { .. }
        ));
    }

    #[test]
    fn an_ended_session_is_refused_until_the_next_sign_in() {
        let faults = DemoFaults::default();
        let mut s = Session::new();
        let v = s.live_value(&faults).to_string();
        s.end();
        assert_eq!(s.admit(&v, DemoFlavor::Cloud, &faults), Caller::Rejected);
        let fresh = s.live_value(&faults).to_string();
        assert_ne!(fresh, v, "the login page hands out a new session");
        assert!(matches!(
            s.admit(&fresh, DemoFlavor::Cloud, &faults),
            Caller::User { .. }
        ));
    }

    #[test]
    fn presented_session_finds_the_flavors_cookie() {
        let h = "atlassian.xsrf.token=x; cloud.session.token=abc ; other=1";
        assert_eq!(presented_session(h, DemoFlavor::Cloud), Some("abc"));
        assert_eq!(presented_session(h, DemoFlavor::Server), None);
    }
}
