//! Auditing intake-file failures once: the same bad file seen again adds
//! no record.

use sha2::{Digest, Sha256};

use crate::cookies::jar::CookieSource;

use super::{CredentialError, Credentials, error_code};

impl Credentials {
    /// [`Credentials::fail`] for the intake file, auditing a failure only
    /// when it differs from the last one audited: the same bad file seen
    /// again is not a new event.
    pub(super) fn fail_intake(
        &self,
        action: &str,
        source: Option<&CookieSource>,
        err: CredentialError,
        content: &str,
    ) -> CredentialError {
        let mut digest = Sha256::new();
        digest.update(error_code(&err).as_bytes());
        digest.update([0]);
        digest.update(err.to_string().as_bytes());
        digest.update([0]);
        digest.update(content.as_bytes());
        let digest = digest.finalize().to_vec();
        let repeated = match self.last_intake_failure.lock() {
            Ok(mut last) => last.replace(digest.clone()).as_ref() == Some(&digest),
            Err(_) => false,
        };
        if repeated {
            tracing::debug!(
                action,
                "the same intake-file failure again; not audited again"
            );
            return err;
        }
        self.fail(action, source, err)
    }
}
