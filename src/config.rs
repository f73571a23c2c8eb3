//! Settings from flags > process environment > `.env` (dotenvy), validated,
//! and the paths of every file under the data directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::{Host, Url};

use crate::secret::SecretString;
use crate::vault::format::{DEFAULT_KDF_LOG_N, KDF_LOG_N_RANGE};

/// Settings whose values are secret: never echoed in an error.
const SECRET_SETTINGS: &[&str] = &[
    "CONFLUENCE_API_TOKEN",
    "CONFLUENCE_VAULT_PASSPHRASE",
    "CONFLUENCE_CLIENT_CERT_PASSWORD",
];

/// Cookie lifetime when the browser gave none.
pub(crate) const DEFAULT_COOKIE_TTL_DAYS: u32 = 14;
/// Per-request timeout.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// How long to wait for another process's vault or audit lock.
pub(crate) const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 30;
pub(crate) const DEFAULT_KEEPALIVE_SECS: u64 = 600;

/// A setting that could not be used. Names the setting, the bad value (unless
/// secret) and what a valid one looks like.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={shown} is not valid: {why}. Expected {expected}.")]
    Invalid {
        name: &'static str,
        shown: String,
        why: String,
        expected: &'static str,
    },
    #[error("cannot read the settings file {path}: {reason}")]
    EnvFile { path: PathBuf, reason: String },
    /// A `.env` line that cannot be parsed, named by its line and setting
    /// (when they can be told) and never by its text, which may be a secret.
    #[error(
        "{} {}: cannot be parsed: check its quoting (a value with spaces, # or quotes goes in single quotes, e.g. NAME='a b'); the line is not shown as it may hold a secret",
        .path.display(),
        env_line_place(*.line, .name.as_deref())
    )]
    EnvLine {
        path: PathBuf,
        /// 1-based; where a multi-line value starts.
        line: Option<usize>,
        name: Option<String>,
    },
    #[error("no data directory: the platform has none; set CONFLUENCE_DATA_DIR or pass --data-dir")]
    NoDataDir,
    #[error(
        "CONFLUENCE_BASE_URL is not set. Put it in {env_file} (e.g. CONFLUENCE_BASE_URL=https://your-site.atlassian.net/wiki), export it, or pass --base-url"
    )]
    MissingBaseUrl { env_file: String },
}

/// How requests authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthSetting {
    Auto,
    Basic,
    Bearer,
    Cookie,
}

/// Cloud or Server/Data Center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentSetting {
    Auto,
    Cloud,
    Server,
}

/// Overrides given on the command line (highest precedence).
#[derive(Clone, Debug, Default)]
pub struct FlagOverrides {
    pub env_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub base_url: Option<String>,
}

/// The validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: Option<Url>,
    pub username: Option<String>,
    pub api_token: Option<SecretString>,
    pub auth: AuthSetting,
    pub deployment: DeploymentSetting,
    pub data_dir: PathBuf,
    pub vault_passphrase: Option<SecretString>,
    pub cookie_ttl: time::Duration,
    pub kdf_log_n: u8,
    pub ca_bundle: Option<PathBuf>,
    /// A client certificate for a gateway that wants one (mTLS): a PEM
    /// chain (with its key, unless `client_key`) or a PKCS#12 file.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The password of the PKCS#12 file or the encrypted PEM key.
    pub client_cert_password: Option<SecretString>,
    /// Cookie names that belong to a gateway, besides the known ones.
    pub gateway_cookies: Vec<String>,
    pub timeout: Duration,
    /// How long to wait for another process's vault or audit lock
    /// (`CONFLUENCE_LOCK_TIMEOUT_SECS`).
    pub lock_timeout: Duration,
    /// Background verification interval (`CONFLUENCE_KEEPALIVE_SECS`);
    /// zero turns keep-alive off in the TUI.
    pub keepalive_interval: Duration,
    /// Run through `sh -c` when the user must act (`CONFLUENCE_NOTIFY_CMD`).
    pub notify_cmd: Option<String>,
    /// The browser (and profile) whose cookie store is watched for a fresh
    /// login while the session is dead (`CONFLUENCE_BROWSER`).
    pub browser: Option<crate::browser::BrowserSpec>,
    /// The `.env` file that was read, if any.
    pub env_file_used: Option<PathBuf>,
    /// The `.env` file that was looked for (shown in guidance).
    pub env_file_looked_for: PathBuf,
}

impl Settings {
    /// Loads settings: flags > process environment > the `.env` file.
    pub fn load(flags: &FlagOverrides) -> Result<Settings, ConfigError> {
        let (file_vars, used, looked_for) = read_env_file(flags.env_file.as_deref())?;
        let source = SettingSource {
            file: file_vars,
            process: |name: &str| std::env::var(name).ok(),
        };
        Settings::from_source(flags, &source, used, looked_for)
    }

    /// Loads settings from explicit variables only (tests, the demo).
    pub fn from_vars(
        flags: &FlagOverrides,
        vars: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let source = SettingSource {
            file: HashMap::new(),
            process: |name: &str| vars.get(name).cloned(),
        };
        Settings::from_source(flags, &source, None, PathBuf::from(".env"))
    }

    fn from_source<F: Fn(&str) -> Option<String>>(
        flags: &FlagOverrides,
        src: &SettingSource<F>,
        env_file_used: Option<PathBuf>,
        env_file_looked_for: PathBuf,
    ) -> Result<Settings, ConfigError> {
        let base_url = match flags
            .base_url
            .clone()
            .or_else(|| src.get("CONFLUENCE_BASE_URL"))
        {
            Some(raw) => Some(parse_base_url(&raw)?),
            None => None,
        };
        let data_dir = match flags.data_dir.clone() {
            Some(p) => p,
            None => match src.get("CONFLUENCE_DATA_DIR") {
                Some(p) => PathBuf::from(p),
                None => dirs::data_dir()
                    .ok_or(ConfigError::NoDataDir)?
                    .join("confluence-tui"),
            },
        };
        let auth = match src
            .get("CONFLUENCE_AUTH")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => AuthSetting::Auto,
            Some("basic") => AuthSetting::Basic,
            Some("bearer") => AuthSetting::Bearer,
            Some("cookie") => AuthSetting::Cookie,
            Some(_) => {
                return Err(invalid(
                    src,
                    "CONFLUENCE_AUTH",
                    "unknown auth mode",
                    "one of auto, basic, bearer, cookie",
                ));
            }
        };
        let deployment = match src
            .get("CONFLUENCE_DEPLOYMENT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => DeploymentSetting::Auto,
            Some("cloud") => DeploymentSetting::Cloud,
            Some("server") | Some("datacenter") | Some("dc") => DeploymentSetting::Server,
            Some(_) => {
                return Err(invalid(
                    src,
                    "CONFLUENCE_DEPLOYMENT",
                    "unknown deployment",
                    "one of auto, cloud, server",
                ));
            }
        };
        let ttl_days: u32 = parse_number(
            src,
            "CONFLUENCE_COOKIE_TTL_DAYS",
            DEFAULT_COOKIE_TTL_DAYS,
            1..=365,
            "a whole number of days from 1 to 365, e.g. 14",
        )?;
        let kdf_log_n: u8 = parse_number(
            src,
            "CONFLUENCE_KDF_LOG_N",
            DEFAULT_KDF_LOG_N,
            KDF_LOG_N_RANGE,
            "a whole number from 10 to 20 (log2 of scrypt's N), e.g. 17",
        )?;
        let timeout_secs: u64 = parse_number(
            src,
            "CONFLUENCE_TIMEOUT_SECS",
            DEFAULT_TIMEOUT_SECS,
            1..=600,
            "a whole number of seconds from 1 to 600, e.g. 30",
        )?;
        let lock_timeout_secs: u64 = parse_number(
            src,
            "CONFLUENCE_LOCK_TIMEOUT_SECS",
            DEFAULT_LOCK_TIMEOUT_SECS,
            0..=3600,
            "a whole number of seconds from 0 (do not wait) to 3600, e.g. 30",
        )?;
        let keepalive_secs: u64 = parse_number(
            src,
            "CONFLUENCE_KEEPALIVE_SECS",
            DEFAULT_KEEPALIVE_SECS,
            0..=86_400,
            "a whole number of seconds from 0 (off) to 86400, e.g. 600",
        )?;
        let notify_cmd = src
            .get("CONFLUENCE_NOTIFY_CMD")
            .filter(|c| !c.trim().is_empty());
        let browser = match src
            .get("CONFLUENCE_BROWSER")
            .filter(|b| !b.trim().is_empty())
        {
            None => None,
            Some(text) => Some(crate::browser::BrowserSpec::parse(&text).map_err(|_| {
                invalid(
                    src,
                    "CONFLUENCE_BROWSER",
                    "not a browser this tool reads",
                    "firefox, chromium, chrome, brave, edge or auto, optionally followed by :PROFILE_PATH",
                )
            })?),
        };
        let ca_bundle = src.get("CONFLUENCE_CA_BUNDLE").map(PathBuf::from);
        if let Some(path) = &ca_bundle
            && !path.is_file()
        {
            return Err(invalid(
                src,
                "CONFLUENCE_CA_BUNDLE",
                "no such file",
                "the path of a PEM file with extra root certificates",
            ));
        }
        let client_cert = src.get("CONFLUENCE_CLIENT_CERT").map(PathBuf::from);
        let client_key = src.get("CONFLUENCE_CLIENT_KEY").map(PathBuf::from);
        for (name, path) in [
            ("CONFLUENCE_CLIENT_CERT", &client_cert),
            ("CONFLUENCE_CLIENT_KEY", &client_key),
        ] {
            if let Some(p) = path
                && !p.is_file()
            {
                return Err(invalid(
                    src,
                    name,
                    "no such file",
                    "the path of a PEM file (or, for CONFLUENCE_CLIENT_CERT, a PKCS#12 .p12/.pfx)",
                ));
            }
        }
        if client_key.is_some() && client_cert.is_none() {
            return Err(invalid(
                src,
                "CONFLUENCE_CLIENT_KEY",
                "set without CONFLUENCE_CLIENT_CERT",
                "CONFLUENCE_CLIENT_CERT naming the certificate the key belongs to",
            ));
        }
        let client_cert_password = src
            .get("CONFLUENCE_CLIENT_CERT_PASSWORD")
            .map(SecretString::from);
        let gateway_cookies: Vec<String> = src
            .get("CONFLUENCE_GATEWAY_COOKIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = gateway_cookies
            .iter()
            .find(|n| n.chars().any(|c| c.is_control() || " ;=\"".contains(c)))
        {
            let _ = bad;
            return Err(invalid(
                src,
                "CONFLUENCE_GATEWAY_COOKIES",
                "a cookie name with a space, ';', '=' or a quote",
                "cookie names separated by commas, e.g. CONFLUENCE_GATEWAY_COOKIES=GW_SESSION,edge_auth",
            ));
        }
        let username = src.get("CONFLUENCE_USERNAME");
        let api_token = src.get("CONFLUENCE_API_TOKEN").map(SecretString::from);
        let vault_passphrase = src
            .get("CONFLUENCE_VAULT_PASSPHRASE")
            .map(SecretString::from);
        if let Some(t) = &api_token {
            use crate::secret::ExposeSecret;
            if t.expose_secret()
                .chars()
                .any(|c| c.is_control() || c == ' ')
            {
                return Err(invalid(
                    src,
                    "CONFLUENCE_API_TOKEN",
                    "contains spaces or control characters",
                    "the token exactly as Confluence showed it, on one line",
                ));
            }
        }
        Ok(Settings {
            base_url,
            username,
            api_token,
            auth,
            deployment,
            data_dir,
            vault_passphrase,
            cookie_ttl: time::Duration::days(i64::from(ttl_days)),
            kdf_log_n,
            ca_bundle,
            client_cert,
            client_key,
            client_cert_password,
            gateway_cookies,
            timeout: Duration::from_secs(timeout_secs),
            lock_timeout: Duration::from_secs(lock_timeout_secs),
            keepalive_interval: Duration::from_secs(keepalive_secs),
            notify_cmd,
            browser,
            env_file_used,
            env_file_looked_for,
        })
    }

    /// The base URL, or an error saying where to set it.
    pub(crate) fn require_base_url(&self) -> Result<&Url, ConfigError> {
        self.base_url
            .as_ref()
            .ok_or_else(|| ConfigError::MissingBaseUrl {
                env_file: self.env_file_looked_for.display().to_string(),
            })
    }

    /// The identity of the configured site, if one is configured.
    pub fn site(&self) -> Option<crate::site::SiteKey> {
        self.base_url.as_ref().map(crate::site::SiteKey::from_url)
    }

    /// The paths of every file under the data directory.
    pub fn paths(&self) -> DataPaths {
        DataPaths::new(&self.data_dir)
    }
}

/// Files and directories under the data directory.
#[derive(Clone, Debug)]
pub struct DataPaths {
    pub root: PathBuf,
    pub cookies_dir: PathBuf,
    pub logs_dir: PathBuf,
    /// `cookies/confluence_cookies.txt`: the plain intake file.
    pub intake_file: PathBuf,
    /// `cookies/secure_cookies.enc`: the vault.
    pub vault_file: PathBuf,
    /// `logs/cookie_audit.log`
    pub audit_log: PathBuf,
    /// `logs/confluence-tui.log`
    pub diagnostics_log: PathBuf,
}

impl DataPaths {
    pub fn new(root: &Path) -> DataPaths {
        let cookies_dir = root.join("cookies");
        let logs_dir = root.join("logs");
        DataPaths {
            root: root.to_path_buf(),
            intake_file: cookies_dir.join("confluence_cookies.txt"),
            vault_file: cookies_dir.join("secure_cookies.enc"),
            audit_log: logs_dir.join("cookie_audit.log"),
            diagnostics_log: logs_dir.join("confluence-tui.log"),
            cookies_dir,
            logs_dir,
        }
    }
}

struct SettingSource<F: Fn(&str) -> Option<String>> {
    file: HashMap<String, String>,
    process: F,
}

impl<F: Fn(&str) -> Option<String>> SettingSource<F> {
    /// Process environment first, then the file; empty values count as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.process)(name)
            .or_else(|| self.file.get(name).cloned())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

fn shown_value<F: Fn(&str) -> Option<String>>(
    src: &SettingSource<F>,
    name: &'static str,
) -> String {
    if SECRET_SETTINGS.contains(&name) {
        "<hidden>".to_string()
    } else {
        format!("{:?}", src.get(name).unwrap_or_default())
    }
}

fn invalid<F: Fn(&str) -> Option<String>>(
    src: &SettingSource<F>,
    name: &'static str,
    why: &str,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        name,
        shown: shown_value(src, name),
        why: why.to_string(),
        expected,
    }
}

fn parse_number<T, F>(
    src: &SettingSource<F>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    expected: &'static str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Copy,
    F: Fn(&str) -> Option<String>,
{
    match src.get(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<T>() {
            Ok(v) if range.contains(&v) => Ok(v),
            Ok(_) => Err(invalid(src, name, "out of range", expected)),
            Err(_) => Err(invalid(src, name, "not a whole number", expected)),
        },
    }
}

/// Parses and checks the site URL: http(s), a host, no credentials in it, and
/// plain `http://` only for a loopback host.
pub fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| ConfigError::Invalid {
        name: "CONFLUENCE_BASE_URL",
        // The URL may carry user:password; show it without them.
        shown: format!("{:?}", redact_userinfo(raw)),
        why: why.to_string(),
        expected: "the site's address, e.g. https://your-site.atlassian.net/wiki or https://confluence.example.com",
    };
    let mut url = Url::parse(raw.trim()).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) {
                return Err(bad(
                    "plain http:// would send credentials unencrypted; only loopback hosts may use it",
                ));
            }
        }
        _ => return Err(bad("the scheme must be https://")),
    }
    if url.host().is_none() {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not contain a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not contain ?query or #fragment"));
    }
    // Keep the path without a trailing slash so joins are predictable.
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `raw` without its user name and password, for messages. Text that is not
/// a URL with a host loses everything from after `://` (or the start) up to
/// the last `@`: more than the user-info, perhaps, but never less.
fn redact_userinfo(raw: &str) -> String {
    let raw = raw.trim();
    match Url::parse(raw) {
        Ok(mut u) if u.has_host() => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            } else {
                raw.to_string()
            }
        }
        _ => {
            let (scheme, rest) = raw.find("://").map_or(("", raw), |i| raw.split_at(i + 3));
            match rest.rfind('@') {
                Some(at) => format!("{scheme}{}", &rest[at + 1..]),
                None => raw.to_string(),
            }
        }
    }
}

/// "line 3 (NAME)", "line 3", … for a `.env` line that cannot be parsed.
fn env_line_place(line: Option<usize>, name: Option<&str>) -> String {
    match (line, name) {
        (Some(l), Some(n)) => format!("line {l} ({n})"),
        (Some(l), None) => format!("line {l}"),
        (None, Some(n)) => format!("line of {n}"),
        (None, None) => "(a line)".to_string(),
    }
}

type EnvFileResult = (HashMap<String, String>, Option<PathBuf>, PathBuf);

/// Reads the `.env` file into a map without touching the process environment.
/// A missing default `.env` is fine; a missing `--env-file` is an error.
fn read_env_file(explicit: Option<&Path>) -> Result<EnvFileResult, ConfigError> {
    let path = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".env"));
    if !path.exists() {
        if explicit.is_some() {
            return Err(ConfigError::EnvFile {
                path,
                reason: "no such file".into(),
            });
        }
        return Ok((HashMap::new(), None, path));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::EnvFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    // dotenvy's errors quote the line: reported by line and name instead.
    let map = env_file::parse(&path, &text)?;
    Ok((map, Some(path.clone()), path))
}

mod env_file;
mod env_write;
pub use env_write::{EnvWriteError, EnvWritten, write_env_settings};
#[cfg(test)]
mod tests;
