//! Credentials tried with the site before they are stored: a token (`token
//! set`, the token dialog) and cookies (every import). A trial asks who the
//! credentials sign in as, sent the way they will be once stored, and
//! changes nothing: not the session, not the vault.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::auth::{AuthError, token_credential};
use crate::config::Settings;
use crate::confluence::classify::Outcome;
use crate::confluence::client::{
    AuthMode, Client, ClientError, ClientOptions, Decorations, Deployment, Fixed, NoticeSink,
    RetryPolicy, Tls, detect_deployment,
};
use crate::confluence::model::User;
use crate::exit::ErrorClass;
use crate::secret::SecretString;

use super::SessionError;

/// Who the site says a token signs in as, and how it was sent.
#[derive(Clone, Debug)]
pub struct TokenAccepted {
    pub user: User,
    pub mode: AuthMode,
    pub why: String,
    pub deployment: Deployment,
}

/// Asks the configured site who `decorations` sign in as. Stores nothing.
pub(crate) async fn trial(
    settings: &Settings,
    retry: RetryPolicy,
    tls: Option<Tls>,
    decorations: Decorations,
    notices: Option<NoticeSink>,
) -> Result<(User, Deployment), ClientError> {
    let base = settings
        .require_base_url()
        .map_err(|e| ClientError::Blocked {
            class: ErrorClass::Usage,
            message: e.to_string(),
        })?
        .clone();
    let opts = ClientOptions {
        deployment: detect_deployment(&base, settings.deployment),
        base_url: base,
        authority: Fixed::shared(decorations),
        timeout: settings.timeout,
        ca_bundle: settings.ca_bundle.clone(),
        tls,
        retry,
    };
    let mut client = Client::new(opts)?;
    if let Some(sink) = notices {
        client = client.with_notices(sink);
    }
    let user = client.current_user().await?;
    Ok((user, client.deployment()))
}

/// Asks the site who `token` (with `username`, else `CONFLUENCE_USERNAME`)
/// signs in as, sent the way it will be once stored. Stores nothing.
/// `gateway`: the site's stored credentials, whose gateway headers and
/// cookies go with the token as they will once it is stored.
#[allow(clippy::too_many_arguments)]
pub async fn check_token(
    settings: &Settings,
    retry: RetryPolicy,
    tls: Option<Tls>,
    gateway: Option<&crate::vault::SiteCredentials>,
    username: Option<&str>,
    token: &SecretString,
    notices: Option<NoticeSink>,
) -> Result<TokenAccepted, TokenRefused> {
    let (decorations, why) = token_credential(settings, username, token.clone()).map_err(|e| {
        let class = match &e {
            AuthError::Credentials(c) => c.class(),
            _ => ErrorClass::Usage,
        };
        TokenRefused {
            error: SessionError::new(class, e.to_string()),
            record: None,
        }
    })?;
    let mode = decorations.mode();
    let decorations = match gateway {
        Some(own) => {
            crate::auth::with_gateway(decorations, settings, own, time::OffsetDateTime::now_utc())
        }
        None => decorations,
    };
    match trial(settings, retry, tls, decorations, notices).await {
        Ok((user, deployment)) => Ok(TokenAccepted {
            user,
            mode,
            why,
            deployment,
        }),
        Err(e) => {
            let nothing_stored = match e.class() {
                ErrorClass::Network => {
                    "; the token was not stored (`token set --no-verify` stores it without asking the site)"
                }
                _ => "; the token was not stored",
            };
            // A gateway that wants its own sign-in never judged the token.
            let record = match e.outcome() {
                Some(Outcome::GatewaySignIn {
                    gateway,
                    login_url,
                    status,
                }) => Some(super::audit_words::gateway_sign_in(
                    gateway,
                    login_url.clone(),
                    *status,
                )),
                _ => token_refused_record(e.class()),
            };
            Err(TokenRefused {
                error: SessionError::new(e.class(), format!("{e}{nothing_stored}")),
                record,
            })
        }
    }
}

/// A token `check_token` did not accept, and the audit record of why
/// (none when the check said nothing of the token: a network failure).
#[derive(Debug)]
pub struct TokenRefused {
    pub error: SessionError,
    pub record: Option<AuditEntry>,
}

/// The audit record of a token the site refused, or `None` when the check
/// failed for another reason (a network failure says nothing of the token).
fn token_refused_record(class: ErrorClass) -> Option<AuditEntry> {
    matches!(class, ErrorClass::Auth | ErrorClass::Captcha).then(|| {
        AuditEntry::new(
            AuditEvent::CredentialsRejected,
            AuditOutcome::Failure,
            "The site did not accept a token; it was not stored",
        )
        .details(AuditDetails {
            reason: Some(
                match class {
                    ErrorClass::Captcha => "captcha",
                    _ => "token_rejected",
                }
                .into(),
            ),
            ..Default::default()
        })
    })
}
