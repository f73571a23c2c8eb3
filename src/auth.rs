//! Which credential to use, and why: `CONFLUENCE_AUTH` and what is stored.
//! `auto` picks unexpired stored cookies, else user name + token (Basic),
//! else a token alone (Bearer), else "not configured".

use time::OffsetDateTime;

use crate::config::{AuthSetting, Settings};
use crate::confluence::client::{Decoration, Decorations};
use crate::credentials::{CredentialError, Credentials, expiry_reason};
use crate::secret::SecretString;

/// The credential chosen and the reason, for the status screen and `check`.
#[derive(Debug)]
pub(crate) struct ResolvedAuth {
    pub decorations: Decorations,
    /// A sentence: why this mode.
    pub why: String,
    /// When the stored cookies expire (cookie mode only).
    pub expires_at: Option<OffsetDateTime>,
    /// The site's session state as stored in the vault.
    pub stored: Option<crate::vault::StoredSession>,
}

/// No usable credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("{0}")]
    NotConfigured(String),
    #[error(
        "the stored cookies have expired ({reason}); sign in with the browser and import fresh cookies"
    )]
    CookiesExpired { reason: String },
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

const HOW_TO_CONFIGURE: &str = "set CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN (Cloud API token), or CONFLUENCE_API_TOKEN alone (Server/DC personal access token), or import browser cookies with `confluence-tui cookies import`";

/// Chooses the credential. Opens the vault (one scrypt run) only when a vault
/// file exists.
pub(crate) fn resolve(
    settings: &Settings,
    creds: &Credentials,
    now: OffsetDateTime,
) -> Result<ResolvedAuth, AuthError> {
    // Even a token from the environment needs the vault when one exists:
    // the site's session state (a CAPTCHA that holds every mode) is kept
    // there.
    let needs_vault = creds.paths().vault_file.exists();
    let doc = if needs_vault {
        creds.load()?
    } else {
        Default::default()
    };
    choose(settings, creds, &doc, now)
}

/// Chooses the credential from a vault document already read.
pub(crate) fn choose(
    settings: &Settings,
    creds: &Credentials,
    doc: &crate::vault::VaultDocument,
    now: OffsetDateTime,
) -> Result<ResolvedAuth, AuthError> {
    let env_token = settings.api_token.clone();
    // Only the configured site's credentials: another site's cookies or
    // token are never sent here.
    let own = creds
        .site()
        .and_then(|site| doc.site(site))
        .cloned()
        .unwrap_or_default();
    let elsewhere = elsewhere(creds, doc, &own);
    let own_gateway = own.clone();
    let session = own.session.clone();
    let not_configured = |message: String| match &elsewhere {
        Some(note) => AuthError::NotConfigured(format!("{note}. {message}")),
        None => AuthError::NotConfigured(message),
    };
    // A token from the environment goes with the environment's user name;
    // a stored one with the user name stored with it, else that one.
    let (token, username): (Option<SecretString>, Option<String>) = match env_token {
        Some(t) => (Some(t), settings.username.clone()),
        None => (
            own.api_token,
            own.username.or_else(|| settings.username.clone()),
        ),
    };
    let gateway = &settings.gateway_cookies;
    let stored = own.cookies;
    // A gateway's cookies go with every mode (`with_gateway`); alone next
    // to a token, they are not what signs in to Confluence: the token is.
    let usable = stored
        .as_ref()
        .filter(|c| c.is_usable(now))
        .filter(|c| !c.jar.only_gateway_cookies(gateway))
        .cloned();
    // Only a gateway's cookies, and nothing that signs in to Confluence.
    let gateway_only = stored
        .as_ref()
        .filter(|c| c.is_usable(now) && c.jar.only_gateway_cookies(gateway))
        .map(|c| {
            not_configured(format!(
                "only a gateway's cookies are stored ({}): they open the gateway, and Confluence itself needs a token next to them: `confluence-tui token set` (a personal access token, or an API token with CONFLUENCE_USERNAME), or import Confluence's own cookies with them",
                c.jar.names().join(", ")
            ))
        });
    let expired_reason = stored
        .as_ref()
        .and_then(|c| expiry_reason(&c.expiry_state(now)));
    let cookie = |c: crate::cookies::jar::StoredCookies, why: String| ResolvedAuth {
        decorations: Decorations::cookies(c.jar),
        why,
        expires_at: Some(c.expires_at),
        stored: None,
    };
    let chosen = match settings.auth {
        AuthSetting::Cookie => match usable {
            Some(c) => Ok(cookie(c, "CONFLUENCE_AUTH=cookie".into())),
            None => match (gateway_only, expired_reason) {
                (Some(e), _) => Err(e),
                (None, Some(reason)) => Err(AuthError::CookiesExpired { reason }),
                (None, None) => Err(not_configured("CONFLUENCE_AUTH=cookie but no cookies are stored: import them with `confluence-tui cookies import` (or p in the app)".into())),
            },
        },
        AuthSetting::Basic => match (username, token) {
            (Some(username), Some(token)) => Ok(ResolvedAuth { decorations: Decorations::basic(username, token), why: "CONFLUENCE_AUTH=basic".into(), expires_at: None, stored: None }),
            _ => Err(AuthError::NotConfigured("CONFLUENCE_AUTH=basic needs CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN".into())),
        },
        AuthSetting::Bearer => match token {
            Some(token) => Ok(ResolvedAuth { decorations: Decorations::bearer(token), why: "CONFLUENCE_AUTH=bearer".into(), expires_at: None, stored: None }),
            None => Err(not_configured("CONFLUENCE_AUTH=bearer needs CONFLUENCE_API_TOKEN (a personal access token) or `confluence-tui token set`".into())),
        },
        AuthSetting::Auto => match (usable, username, token) {
            (Some(c), _, _) => Ok(cookie(c, "auto: unexpired browser cookies are stored".into())),
            (None, Some(username), Some(token)) => Ok(ResolvedAuth {
                decorations: Decorations::basic(username, token),
                why: "auto: a user name and an API token are set".into(),
                expires_at: None,
                stored: None,
            }),
            (None, None, Some(token)) => Ok(ResolvedAuth {
                decorations: Decorations::bearer(token),
                why: "auto: a token without a user name is sent as a personal access token".into(),
                expires_at: None,
                stored: None,
            }),
            (None, _, None) => match (gateway_only, expired_reason) {
                (Some(e), _) => Err(e),
                (None, Some(reason)) => Err(AuthError::CookiesExpired { reason }),
                (None, None) => Err(not_configured(format!("no credentials: {HOW_TO_CONFIGURE}"))),
            },
        },
    };
    chosen.map(|mut r| {
        r.stored = session;
        r.decorations = with_gateway(r.decorations, settings, &own_gateway, now);
        r
    })
}

/// `decorations` and what a gateway in front of the site wants on every
/// request: its headers (a service token) and, next to a token, its
/// cookies from the stored set.
pub(crate) fn with_gateway(
    mut decorations: Decorations,
    settings: &Settings,
    own: &crate::vault::SiteCredentials,
    now: OffsetDateTime,
) -> Decorations {
    if decorations.cookie_jar().is_none()
        && let Some(jar) = own
            .cookies
            .as_ref()
            .filter(|c| c.is_usable(now))
            .and_then(|c| c.jar.gateway_cookies(&settings.gateway_cookies))
    {
        decorations = decorations.with(Decoration::Cookies(jar));
    }
    for secret in &own.gateway {
        for (name, value) in secret.headers() {
            decorations = decorations.with(Decoration::Header { name, value });
        }
    }
    decorations
}

/// How a token about to be stored will be sent once it is: the credential
/// and why, by the rules `resolve` applies to a stored token (`username`
/// is the one to store with it, else `CONFLUENCE_USERNAME`).
pub(crate) fn token_credential(
    settings: &Settings,
    username: Option<&str>,
    token: SecretString,
) -> Result<(Decorations, String), AuthError> {
    let username = username
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .or_else(|| settings.username.clone());
    match (settings.auth, username) {
        (AuthSetting::Bearer, _) => {
            Ok((Decorations::bearer(token), "CONFLUENCE_AUTH=bearer".into()))
        }
        (AuthSetting::Basic, Some(username)) => Ok((
            Decorations::basic(username, token),
            "CONFLUENCE_AUTH=basic".into(),
        )),
        (AuthSetting::Basic, None) => Err(AuthError::NotConfigured(
            "CONFLUENCE_AUTH=basic needs a user name: give --username or set CONFLUENCE_USERNAME"
                .into(),
        )),
        (AuthSetting::Auto | AuthSetting::Cookie, Some(username)) => Ok((
            Decorations::basic(username, token),
            "a user name and an API token: sent as Basic".into(),
        )),
        (AuthSetting::Auto | AuthSetting::Cookie, None) => Ok((
            Decorations::bearer(token),
            "a token without a user name: sent as a personal access token".into(),
        )),
    }
}

/// "no credentials for B; the vault holds credentials for A" when the
/// configured site holds nothing but other sites do.
fn elsewhere(
    creds: &Credentials,
    doc: &crate::vault::VaultDocument,
    own: &crate::vault::SiteCredentials,
) -> Option<String> {
    if !own.is_empty() {
        return None;
    }
    let site = creds.site()?;
    let mut others = doc.sites_with_credentials();
    others.retain(|s| s != site.as_str());
    if others.is_empty() {
        return None;
    }
    Some(format!(
        "no credentials for {site}; the vault holds credentials for {}",
        others.join(", ")
    ))
}
