//! What can go wrong talking to Confluence, worded for the person who has to
//! act, and the class of each failure (which decides the exit code).

use std::path::PathBuf;

use super::classify::Outcome;
use super::paging::PagingError;
use crate::exit::ErrorClass;

/// A request that did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "refusing to send credentials over plain http:// to {host}; use https:// (plain http is allowed only for loopback hosts)"
    )]
    InsecureUrl { host: String },
    #[error("cannot use CONFLUENCE_CA_BUNDLE {path}: {reason}")]
    CaBundle { path: PathBuf, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    #[error("{}", describe_outcome(outcome))]
    Refused { outcome: Outcome, path: String },
    /// The space key names no space this account can see.
    #[error("no space with key {} is visible to this account", key.escape_debug())]
    UnknownSpace { key: String },
    #[error("network error talking to {host}: {message}")]
    Network { host: String, message: String },
    /// The server ended the TLS handshake over the client certificate:
    /// never retried (the same certificate is refused again).
    #[error("{host} ended the secure (TLS) connection: {message}")]
    ClientCertificate { host: String, message: String },
    /// The host name does not resolve: never retried.
    #[error(
        "cannot find the host {host}: its name does not resolve (DNS); check CONFLUENCE_BASE_URL, or the network and VPN"
    )]
    HostNotFound { host: String },
    #[error("unexpected answer from {path}: {source}")]
    Decode { path: String, source: PagingError },
    #[error("the answer from {path} is larger than 32 MiB; refusing to read it")]
    TooLarge { path: String },
    /// Nothing was sent: the session cannot be used until the user acts
    /// (the message says how).
    #[error("{message}")]
    Blocked { class: ErrorClass, message: String },
}

impl ClientError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> ErrorClass {
        match self {
            ClientError::Refused { outcome, .. } => match outcome {
                Outcome::SessionExpired { .. }
                | Outcome::CredentialsRejected { .. }
                | Outcome::Anonymous => ErrorClass::Auth,
                Outcome::Captcha { .. } => ErrorClass::Captcha,
                Outcome::GatewaySignIn { .. } => ErrorClass::Auth,
                Outcome::Redirect { .. } => ErrorClass::Network,
                Outcome::NotFound { .. } | Outcome::Forbidden { .. } => ErrorClass::Usage,
                // `Ok` is never a refusal; were it one, the site answered oddly.
                Outcome::RateLimited { .. }
                | Outcome::ServerError { .. }
                | Outcome::Unexpected { .. }
                | Outcome::Ok => ErrorClass::Network,
            },
            ClientError::Network { .. }
            | ClientError::ClientCertificate { .. }
            | ClientError::HostNotFound { .. }
            | ClientError::Decode { .. }
            | ClientError::TooLarge { .. } => ErrorClass::Network,
            ClientError::Blocked { class, .. } => *class,
            ClientError::InsecureUrl { .. }
            | ClientError::CaBundle { .. }
            | ClientError::Setup(_)
            | ClientError::UnknownSpace { .. } => ErrorClass::Usage,
        }
    }

    /// The outcome behind a refusal, if this is one.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            ClientError::Refused { outcome, .. } => Some(outcome),
            _ => None,
        }
    }
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::SessionExpired { reason, .. } => format!("the session has expired: {reason}"),
        Outcome::CredentialsRejected { status, message } => {
            format!("the credentials were rejected (HTTP {status}: {message})")
        }
        Outcome::Anonymous => {
            "the site answered as an anonymous user: the credentials were not accepted".into()
        }
        Outcome::Captcha { login_url, .. } => match login_url {
            Some(u) => format!("the site demands a CAPTCHA: sign in through the browser at {u}"),
            None => "the site demands a CAPTCHA: sign in through the browser".into(),
        },
        Outcome::Forbidden { status, message } => format!("not allowed (HTTP {status}): {message}"),
        Outcome::NotFound { message } => format!("not found: {message}"),
        Outcome::RateLimited { status, .. } => {
            format!("rate limited (HTTP {status}) and still limited after retries")
        }
        Outcome::ServerError { status, message } => {
            format!("server error (HTTP {status}): {message}")
        }
        Outcome::Unexpected { status, message } => format!("unexpected HTTP {status}: {message}"),
        Outcome::GatewaySignIn {
            gateway, login_url, ..
        } => format!(
            "{gateway} in front of the site wants you to sign in{}; Confluence's own credentials were not judged",
            login_url
                .as_deref()
                .map(|u| format!(" (at {u})"))
                .unwrap_or_default()
        ),
        Outcome::Redirect { status, location } => {
            format!("unexpected redirect (HTTP {status}) to {location}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confluence::classify::ExpiryReason;

    fn refused(outcome: Outcome) -> ClientError {
        ClientError::Refused {
            outcome,
            path: "/x".into(),
        }
    }

    #[test]
    fn every_error_has_the_class_of_the_contract() {
        let cases = [
            (
                refused(Outcome::SessionExpired {
                    reason: ExpiryReason::Unauthorized,
                    status: 401,
                }),
                ErrorClass::Auth,
            ),
            (
                refused(Outcome::CredentialsRejected {
                    status: 401,
                    message: String::new(),
                }),
                ErrorClass::Auth,
            ),
            (refused(Outcome::Anonymous), ErrorClass::Auth),
            (
                refused(Outcome::Captcha {
                    status: 403,
                    login_url: None,
                    off_site_login_ignored: false,
                }),
                ErrorClass::Captcha,
            ),
            (
                refused(Outcome::NotFound {
                    message: String::new(),
                }),
                ErrorClass::Usage,
            ),
            (
                refused(Outcome::Forbidden {
                    status: 403,
                    message: String::new(),
                }),
                ErrorClass::Usage,
            ),
            (
                refused(Outcome::RateLimited {
                    status: 429,
                    retry_after: None,
                }),
                ErrorClass::Network,
            ),
            (
                refused(Outcome::ServerError {
                    status: 502,
                    message: String::new(),
                }),
                ErrorClass::Network,
            ),
            (
                refused(Outcome::Unexpected {
                    status: 302,
                    message: String::new(),
                }),
                ErrorClass::Network,
            ),
            (
                ClientError::Network {
                    host: "h".into(),
                    message: "m".into(),
                },
                ErrorClass::Network,
            ),
            (
                ClientError::HostNotFound { host: "h".into() },
                ErrorClass::Network,
            ),
            (
                ClientError::TooLarge { path: "/x".into() },
                ErrorClass::Network,
            ),
            (
                ClientError::InsecureUrl { host: "h".into() },
                ErrorClass::Usage,
            ),
            (
                ClientError::CaBundle {
                    path: "/ca.pem".into(),
                    reason: "r".into(),
                },
                ErrorClass::Usage,
            ),
            (ClientError::Setup("s".into()), ErrorClass::Usage),
            (
                ClientError::UnknownSpace { key: "NOPE".into() },
                ErrorClass::Usage,
            ),
        ];
        for (error, class) in cases {
            assert_eq!(error.class(), class, "{error:?}");
        }
    }

    #[test]
    fn an_unknown_space_names_the_key_without_control_characters() {
        let e = ClientError::UnknownSpace { key: "NOPE".into() };
        assert_eq!(
            e.to_string(),
            "no space with key NOPE is visible to this account"
        );
        let e = ClientError::UnknownSpace {
            key: "X\u{1b}[2J".into(),
        };
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }
}
