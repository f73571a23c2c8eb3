//! Which client certificate is offered to a gateway that asks for one:
//! `CONFLUENCE_CLIENT_CERT` (and `CONFLUENCE_CLIENT_KEY`), opened with
//! `CONFLUENCE_CLIENT_CERT_PASSWORD` or the password kept in the vault;
//! else the certificate `gateway cert import` kept in the vault; else none.

use crate::config::Settings;
use crate::confluence::client::{ClientIdentity, IdentityError};
use crate::vault::SiteCredentials;

/// The client certificate the settings and the site's stored credentials
/// name, read (blocking: files, a password's key derivation); `None` when
/// none is named.
pub fn client_identity(
    settings: &Settings,
    own: &SiteCredentials,
) -> Option<Result<ClientIdentity, IdentityError>> {
    if let Some(cert) = &settings.client_cert {
        let password = settings
            .client_cert_password
            .as_ref()
            .or(own.client_cert_password.as_ref());
        return Some(ClientIdentity::load(
            cert,
            settings.client_key.as_deref(),
            password,
        ));
    }
    own.client_identity
        .as_ref()
        .map(ClientIdentity::from_stored)
}

/// The TLS configuration of a one-shot check (a token before it is
/// stored): the settings' roots, and the client certificate offered.
pub fn tls_for(
    settings: &Settings,
    own: &SiteCredentials,
) -> Result<crate::confluence::client::Tls, super::SessionError> {
    let tls = crate::confluence::client::Tls::new(settings.ca_bundle.as_deref())
        .map_err(|e| super::SessionError::new(e.class(), e.to_string()))?;
    match client_identity(settings, own) {
        Some(Ok(id)) => tls.set_identity(Some(std::sync::Arc::new(id))),
        Some(Err(e)) => {
            return Err(super::SessionError::new(
                e.class(),
                format!("the client certificate cannot be used: {e}"),
            ));
        }
        None => {}
    }
    Ok(tls)
}
