//! Exit codes of the public contract, and the one place where a failure's
//! class becomes one.

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
    /// 126 (`exec`): the program was found but could not be started.
    ProgramNotExecutable,
    /// 127 (`exec`): no such program.
    ProgramNotFound,
    /// `exec`: the program's own exit code, or 128 + the number of the
    /// signal that ended it (the shell's convention).
    Program(u8),
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
            Exit::ProgramNotExecutable => 126,
            Exit::ProgramNotFound => 127,
            Exit::Program(code) => code,
        }
    }
}

/// What kind of failure an error is; every error type of the crate that can
/// end a command says which (`class()`), and `exit_for_class` alone turns
/// that into an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Bad flags, settings or input; an unknown space key.
    Usage,
    /// Not signed in: no credentials; expired, rejected or anonymous session.
    Auth,
    /// A CAPTCHA: the user must sign in through the browser.
    Captcha,
    /// Network or server trouble after retries.
    Network,
    /// The vault cannot be read.
    Vault,
    /// Something that should not happen, or a failed write (disk full).
    Internal,
    /// `exec`: the program exists but cannot be started (not executable).
    ProgramNotExecutable,
    /// `exec`: the program was not found.
    ProgramNotFound,
}

/// The one mapping from a failure's class to the process exit code.
pub fn exit_for_class(class: ErrorClass) -> Exit {
    match class {
        ErrorClass::Usage => Exit::Usage,
        ErrorClass::Auth => Exit::AuthNeeded,
        ErrorClass::Captcha => Exit::Captcha,
        ErrorClass::Network => Exit::Network,
        ErrorClass::Vault => Exit::Vault,
        ErrorClass::Internal => Exit::Internal,
        ErrorClass::ProgramNotExecutable => Exit::ProgramNotExecutable,
        ErrorClass::ProgramNotFound => Exit::ProgramNotFound,
    }
}
