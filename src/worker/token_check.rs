//! A token checked with the site before it is stored: `token set` and the
//! TUI's token dialog keep a token only when the site accepts it.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::auth::{AuthError, token_credential};
use crate::config::Settings;
use crate::confluence::classify::Outcome;
use crate::confluence::client::{
    AuthMode, Client, ClientError, ClientOptions, Deployment, NoticeSink, RetryPolicy,
    detect_deployment,
};
use crate::confluence::model::User;
use crate::exit::ErrorClass;
use crate::secret::SecretString;
use crate::worker::WorkerError;

/// Who the site says a token signs in as, and how it was sent.
#[derive(Clone, Debug)]
pub struct TokenAccepted {
    pub user: User,
    pub mode: AuthMode,
    pub why: String,
    pub deployment: Deployment,
}

/// Asks the site who `token` (with `username`, else `CONFLUENCE_USERNAME`)
/// signs in as, sent the way it will be once stored. Stores nothing.
pub async fn check_token(
    settings: &Settings,
    retry: RetryPolicy,
    username: Option<&str>,
    token: &SecretString,
    notices: Option<NoticeSink>,
) -> Result<TokenAccepted, WorkerError> {
    let base = settings
        .require_base_url()
        .map_err(|e| WorkerError::new(ErrorClass::Usage, e.to_string()))?
        .clone();
    let (credential, why) = token_credential(settings, username, token.clone()).map_err(|e| {
        let class = match &e {
            AuthError::Credentials(c) => c.class(),
            _ => ErrorClass::Usage,
        };
        WorkerError::new(class, e.to_string())
    })?;
    let mode = credential.mode();
    let opts = ClientOptions {
        deployment: detect_deployment(&base, settings.deployment),
        base_url: base,
        credential,
        timeout: settings.timeout,
        ca_bundle: settings.ca_bundle.clone(),
        retry,
    };
    let mut client = Client::new(opts).map_err(|e| WorkerError::new(e.class(), e.to_string()))?;
    if let Some(sink) = notices {
        client = client.with_notices(sink);
    }
    let answer = match client.current_user().await {
        Ok(user) if user.is_anonymous() => Err(ClientError::Refused {
            outcome: Outcome::Anonymous,
            path: "user/current".into(),
        }),
        other => other,
    };
    match answer {
        Ok(user) => Ok(TokenAccepted {
            user,
            mode,
            why,
            deployment: client.deployment(),
        }),
        Err(e) => {
            let nothing_stored = match e.class() {
                ErrorClass::Network => {
                    "; the token was not stored (`token set --no-verify` stores it without asking the site)"
                }
                _ => "; the token was not stored",
            };
            Err(WorkerError::new(e.class(), format!("{e}{nothing_stored}")))
        }
    }
}

/// The audit record of a token the site refused, or `None` when the check
/// failed for another reason (a network failure says nothing of the token).
pub(crate) fn token_refused_record(error: &WorkerError) -> Option<AuditEntry> {
    matches!(error.class, ErrorClass::Auth | ErrorClass::Captcha).then(|| {
        AuditEntry::new(
            AuditEvent::CredentialsRejected,
            AuditOutcome::Failure,
            "The site did not accept a token; it was not stored",
        )
        .details(AuditDetails {
            reason: Some(
                match error.class {
                    ErrorClass::Captcha => "captcha",
                    _ => "token_rejected",
                }
                .into(),
            ),
            ..Default::default()
        })
    })
}
