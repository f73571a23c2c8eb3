//! Exit codes of the public contract, shared by every headless command.

/// What a process exit means to a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok,
    /// 1: unexpected internal error (also: audit chain broken for `audit --verify`).
    Internal,
    /// 2: usage or configuration error.
    Usage,
    /// 3: authentication needed (no credentials; expired, rejected or anonymous session).
    AuthNeeded,
    /// 4: CAPTCHA challenge: sign in through the browser first.
    Captcha,
    /// 5: network or server failure after retries.
    Network,
    /// 6: vault unreadable (tampered, truncated, other machine, wrong passphrase).
    Vault,
}

impl Exit {
    /// The numeric process exit code.
    pub fn as_u8(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Internal => 1,
            Exit::Usage => 2,
            Exit::AuthNeeded => 3,
            Exit::Captcha => 4,
            Exit::Network => 5,
            Exit::Vault => 6,
        }
    }
}
