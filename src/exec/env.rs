//! What a pipeline finds in its environment: the site, the auth mode and
//! that mode's secret, and nothing else of ours.

use std::process::Command;

use crate::confluence::client::AuthMode;
use crate::secret::{ExposeSecret, SecretString};

/// Every variable of the hand-over contract. Those a hand-over does not
/// set are removed from the child's environment, so a token left in the
/// parent's environment never reaches a child that was given cookies.
pub const PIPELINE_VARIABLES: &[&str] = &[
    "CONFLUENCE_BASE_URL",
    "CONFLUENCE_AUTH",
    "CONFLUENCE_COOKIE",
    "CONFLUENCE_USERNAME",
    "CONFLUENCE_API_TOKEN",
];

/// Ours alone: always removed from the child's environment.
pub const WITHHELD_VARIABLES: &[&str] = &[
    "CONFLUENCE_VAULT_PASSPHRASE",
    "CONFLUENCE_CLIENT_CERT_PASSWORD",
];

/// The credential a pipeline is handed.
#[derive(Debug)]
pub enum Handover {
    /// `CONFLUENCE_COOKIE`: the `Cookie:` header value the site is sent.
    Cookie { header: SecretString },
    /// `CONFLUENCE_USERNAME` + `CONFLUENCE_API_TOKEN` (HTTP Basic).
    Basic {
        username: String,
        token: SecretString,
    },
    /// `CONFLUENCE_API_TOKEN` alone (a personal access token, Bearer).
    Bearer { token: SecretString },
}

impl Handover {
    /// The mode `CONFLUENCE_AUTH` names.
    pub fn mode(&self) -> AuthMode {
        match self {
            Handover::Cookie { .. } => AuthMode::Cookie,
            Handover::Basic { .. } => AuthMode::Basic,
            Handover::Bearer { .. } => AuthMode::Bearer,
        }
    }
}

/// The changes made to the environment a child inherits: variables set
/// (values kept secret) and variables removed.
pub struct ChildEnv {
    set: Vec<(&'static str, SecretString)>,
    remove: Vec<&'static str>,
}

impl ChildEnv {
    /// The pipeline's environment: `CONFLUENCE_BASE_URL`,
    /// `CONFLUENCE_AUTH` and the hand-over's secret set; every other
    /// variable of [`PIPELINE_VARIABLES`] and every one of
    /// [`WITHHELD_VARIABLES`] removed. `exec --proxy` hands over the
    /// proxy's own URL and token the same way.
    pub fn for_pipeline(base_url: &str, handover: Handover) -> ChildEnv {
        let mode = handover.mode();
        let mut set = vec![
            ("CONFLUENCE_BASE_URL", SecretString::from(base_url)),
            ("CONFLUENCE_AUTH", SecretString::from(mode.as_str())),
        ];
        match handover {
            Handover::Cookie { header } => set.push(("CONFLUENCE_COOKIE", header)),
            Handover::Basic { username, token } => {
                set.push(("CONFLUENCE_USERNAME", SecretString::from(username)));
                set.push(("CONFLUENCE_API_TOKEN", token));
            }
            Handover::Bearer { token } => set.push(("CONFLUENCE_API_TOKEN", token)),
        }
        let remove = PIPELINE_VARIABLES
            .iter()
            .chain(WITHHELD_VARIABLES)
            .copied()
            .filter(|name| !set.iter().any(|(set_name, _)| set_name == name))
            .collect();
        ChildEnv { set, remove }
    }

    /// Adds `CONFLUENCE_COOKIE` (a gateway's cookies next to a token)
    /// unless the hand-over already set it.
    pub fn with_cookie(mut self, header: SecretString) -> ChildEnv {
        if !self.set.iter().any(|(n, _)| *n == "CONFLUENCE_COOKIE") {
            self.set.push(("CONFLUENCE_COOKIE", header));
            self.remove.retain(|n| *n != "CONFLUENCE_COOKIE");
        }
        self
    }

    /// The names of the variables set, in order.
    pub fn set_names(&self) -> Vec<&'static str> {
        self.set.iter().map(|(name, _)| *name).collect()
    }

    /// The names of the variables removed.
    pub fn removed_names(&self) -> &[&'static str] {
        &self.remove
    }

    /// Applies the changes to a command about to be started.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        for name in &self.remove {
            cmd.env_remove(name);
        }
        for (name, value) in &self.set {
            cmd.env(name, value.expose_secret());
        }
    }
}

impl std::fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values are the credentials.
        f.debug_struct("ChildEnv")
            .field("set", &self.set_names())
            .field("remove", &self.remove)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_sets_its_secret_and_removes_every_other_variable() {
        let cases = [
            (
                Handover::Cookie {
                    header: SecretString::from("a=SENTINEL"),
                },
                &["CONFLUENCE_COOKIE"][..],
            ),
            (
                Handover::Basic {
                    username: "u@example.com".into(),
                    token: SecretString::from("SENTINEL"),
                },
                &["CONFLUENCE_USERNAME", "CONFLUENCE_API_TOKEN"][..],
            ),
            (
                Handover::Bearer {
                    token: SecretString::from("SENTINEL"),
                },
                &["CONFLUENCE_API_TOKEN"][..],
            ),
        ];
        for (handover, secrets) in cases {
            let env = ChildEnv::for_pipeline("https://x.atlassian.net/wiki", handover);
            let set = env.set_names();
            assert_eq!(&set[..2], ["CONFLUENCE_BASE_URL", "CONFLUENCE_AUTH"]);
            assert_eq!(&set[2..], secrets);
            for name in PIPELINE_VARIABLES.iter().chain(WITHHELD_VARIABLES) {
                assert!(
                    set.contains(name) != env.removed_names().contains(name),
                    "{name} is either set or removed: {env:?}"
                );
            }
            assert!(!format!("{env:?}").contains("SENTINEL"));
        }
    }
}
