//! `confluence-tui demo-server`: the fake site on its own, faults from flags.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use super::{CaptchaForm, DemoConfig, DemoData, DemoError, DemoFaults, DemoFlavor, DemoServer};

/// Flavor flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlavorArg {
    Cloud,
    Server,
}

/// CAPTCHA flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptchaArg {
    /// 403 with X-Authentication-Denied-Reason: CAPTCHA_CHALLENGE
    Header,
    /// 401 with X-Seraph-LoginReason: AUTHENTICATION_DENIED
    Seraph,
}

/// Flags of `demo-server`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoServerArgs {
    /// Address to listen on (loopback only)
    #[arg(long, default_value = "127.0.0.1:8808")]
    pub addr: SocketAddr,
    /// Which Confluence to imitate
    #[arg(long, value_enum, default_value_t = FlavorArg::Cloud)]
    pub flavor: FlavorArg,
    /// Number of generated spaces
    #[arg(long, default_value_t = 60)]
    pub spaces: usize,
    /// Number of pages in every space
    #[arg(long, default_value_t = 30)]
    pub pages_per_space: usize,
    /// Delay added to every API request, in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// The session cookie dies after this many requests
    #[arg(long)]
    pub expire_after_requests: Option<u64>,
    /// The session cookie dies this many seconds after it was issued
    #[arg(long)]
    pub expire_after_secs: Option<u64>,
    /// The session dies after this many seconds without a request
    #[arg(long, value_name = "SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Answer every API request with a CAPTCHA challenge until a browser sign-in
    #[arg(long, value_enum)]
    pub captcha: Option<CaptchaArg>,
    /// The login-url the header CAPTCHA names instead of the site's own
    #[arg(long, value_name = "URL")]
    pub captcha_login_url: Option<String>,
    /// Answer every Nth API request with 429
    #[arg(long)]
    pub rate_limit_every: Option<u64>,
    /// Retry-After seconds sent with 429
    #[arg(long, default_value_t = super::DEFAULT_RETRY_AFTER_SECS)]
    pub retry_after_secs: u64,
    /// Share of API requests answered 502/503/504 (0.0-1.0)
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Signed-out requests get a 302 to /login.action
    #[arg(long)]
    pub redirect_to_login: bool,
    /// Signed-out requests get a 200 HTML login page
    #[arg(long)]
    pub html_login: bool,
    /// Signed-out requests get 403 "Current user not permitted to use Confluence"
    #[arg(long)]
    pub expired_403: bool,
    /// Every request runs as the anonymous user
    #[arg(long)]
    pub anonymous: bool,
    /// Rotate the session cookie on every cookie request (Set-Cookie)
    #[arg(long)]
    pub rotate_cookies: bool,
    /// Requests a rotated-away session value is still accepted for (0:
    /// refused at once)
    #[arg(long, value_name = "N", default_value_t = super::faults::ROTATION_GRACE_REQUESTS)]
    pub rotation_grace: u32,
    /// Space key whose pages answer 403 (repeatable)
    #[arg(long = "forbidden-space", value_name = "KEY")]
    pub forbidden_spaces: Vec<String>,
    /// Silently cap v1 `limit` at N, as Server/DC does
    #[arg(long)]
    pub cap_limit: Option<usize>,
    /// Space lists never end: every page links back to the first
    #[arg(long)]
    pub paging_loops: bool,
    /// Names, titles, the display name and error messages carry terminal
    /// control sequences
    #[arg(long)]
    pub hostile_text: bool,
    /// Signed-in answers also send Set-Cookies a client must refuse (another
    /// domain, a 100 KB value)
    #[arg(long)]
    pub hostile_set_cookies: bool,
    /// Size in bytes of every attachment download (generated on the fly)
    #[arg(long, value_name = "BYTES", default_value_t = super::faults::DEFAULT_ATTACHMENT_BYTES)]
    pub attachment_bytes: u64,
    /// API tokens are disabled, as on an SSO site: only session cookies sign in
    #[arg(long)]
    pub tokens_disabled: bool,
    /// Seed of the injected-error RNG
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl DemoServerArgs {
    /// The site configuration these flags describe.
    pub(crate) fn to_config(&self) -> Result<DemoConfig, DemoError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(DemoError::InvalidOption(format!(
                "--error-rate must be between 0.0 and 1.0, got {}",
                self.error_rate
            )));
        }
        let faults = DemoFaults {
            latency: Duration::from_millis(self.latency_ms),
            session_expire_after_requests: self.expire_after_requests,
            session_expire_after: self.expire_after_secs.map(Duration::from_secs),
            session_idle_timeout: self.idle_timeout_secs.map(Duration::from_secs),
            captcha: self.captcha.map(|c| match c {
                CaptchaArg::Header => CaptchaForm::Header403,
                CaptchaArg::Seraph => CaptchaForm::Seraph401,
            }),
            captcha_login_url: self.captcha_login_url.clone(),
            rate_limit_every: self.rate_limit_every,
            retry_after_secs: self.retry_after_secs,
            error_rate: self.error_rate,
            seed: self.seed,
            redirect_to_login: self.redirect_to_login,
            html_login_page: self.html_login,
            expired_403: self.expired_403,
            anonymous: self.anonymous,
            rotate_cookies: self.rotate_cookies,
            rotation_grace: self.rotation_grace,
            forbidden_spaces: self.forbidden_spaces.clone(),
            cap_limit: self.cap_limit,
            paging_loops: self.paging_loops,
            hostile_text: self.hostile_text,
            hostile_set_cookies: self.hostile_set_cookies,
            attachment_bytes: self.attachment_bytes,
            tokens_disabled: self.tokens_disabled,
        };
        Ok(DemoConfig {
            flavor: match self.flavor {
                FlavorArg::Cloud => DemoFlavor::Cloud,
                FlavorArg::Server => DemoFlavor::Server,
            },
            data: DemoData {
                spaces: self.spaces,
                pages_per_space: self.pages_per_space,
            },
            faults,
        })
    }
}

/// Runs the demo site until Ctrl-C, announcing its URLs on one stdout line.
pub(crate) async fn run_demo_server(args: DemoServerArgs) -> Result<(), DemoError> {
    let config = args.to_config()?;
    let flavor = config.flavor;
    let server = DemoServer::start(config, args.addr).await?;
    // The one line a user (or a script waiting for readiness) reads.
    writeln!(
        std::io::stdout().lock(),
        "demo Confluence ({}) listening on {} — login page: {}",
        flavor.name(),
        server.base_url().as_str().trim_end_matches('/'),
        server.login_url()
    )?;
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DemoServerArgs,
    }

    fn parse(flags: &[&str]) -> DemoServerArgs {
        Cli::try_parse_from(std::iter::once("demo-server").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn flags_become_the_site_configuration() {
        let config = parse(&[
            "--flavor",
            "server",
            "--spaces",
            "10000",
            "--latency-ms",
            "250",
            "--captcha",
            "seraph",
            "--rate-limit-every",
            "5",
            "--retry-after-secs",
            "9223372036854775807",
            "--error-rate",
            "0.25",
            "--rotate-cookies",
            "--cap-limit",
            "100",
            "--forbidden-space",
            "AN0",
            "--expire-after-requests",
            "3",
            "--captcha-login-url",
            "https://evil.example.com/login",
            "--paging-loops",
        ])
        .to_config()
        .unwrap();
        assert_eq!(config.flavor, DemoFlavor::Server);
        assert_eq!(config.data.spaces, 10_000);
        assert_eq!(config.data.pages_per_space, 30);
        let f = config.faults;
        assert_eq!(f.latency, Duration::from_millis(250));
        assert_eq!(f.captcha, Some(CaptchaForm::Seraph401));
        assert_eq!(f.rate_limit_every, Some(5));
        assert_eq!(f.retry_after_secs, 9_223_372_036_854_775_807);
        assert!(f.rotate_cookies && !f.anonymous);
        assert_eq!(f.cap_limit, Some(100));
        assert_eq!(f.forbidden_spaces, vec!["AN0".to_string()]);
        assert_eq!(f.session_expire_after_requests, Some(3));
        assert_eq!(
            f.captcha_login_url.as_deref(),
            Some("https://evil.example.com/login")
        );
        assert!(f.paging_loops);
    }

    #[test]
    fn defaults_listen_on_8808_and_bad_error_rate_is_refused() {
        let args = parse(&[]);
        assert_eq!(args.addr.to_string(), "127.0.0.1:8808");
        assert_eq!(args.to_config().unwrap().faults, DemoFaults::default());
        let err = parse(&["--error-rate", "1.5"]).to_config().unwrap_err();
        assert!(err.to_string().contains("--error-rate"));
    }
}
