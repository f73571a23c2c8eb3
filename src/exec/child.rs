//! Starting the program, forwarding signals to it, and its exit.
//!
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us are sent on to the child,
//! except those the kernel sent: a terminal's Ctrl+C, Ctrl+\ or hang-up
//! goes to the whole foreground process group, and the child (which stays
//! in ours) has had it already; sending it again would interrupt the
//! child's own clean-up. A signal that came before the child existed is
//! sent to it as soon as it does.
//!
//! The child is waited for without being reaped (`waitid` with `WNOWAIT`)
//! until the forwarding has stopped, so a signal can never be sent to a
//! process id the system has handed to someone else meanwhile.

use std::ffi::OsString;
use std::process::{Child, Command, ExitStatus};

use super::ExecError;
use super::env::ChildEnv;

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildExit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl ChildExit {
    /// Our exit code for it: the program's own, or 128 + the signal's number
    /// (the shell's convention).
    pub fn exit_code(self) -> u8 {
        match self {
            // Exit codes are 0–255 on Unix; wider ones are truncated as the
            // shell would see them.
            ChildExit::Code(code) => (code & 0xff) as u8,
            ChildExit::Signal(signal) => u8::try_from(128 + signal.clamp(0, 127)).unwrap_or(255),
        }
    }

    fn of(status: ExitStatus) -> ChildExit {
        #[cfg(unix)]
        if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
            return ChildExit::Signal(signal);
        }
        ChildExit::Code(status.code().unwrap_or(1))
    }
}

/// Runs `argv` (the program, then its arguments) with `env` applied to the
/// environment it inherits, forwarding signals to it, and returns how it
/// ended. Blocks until then: from async code, call it on the blocking pool
/// (`tokio::task::spawn_blocking`), as `exec --proxy` does beside its proxy.
/// Standard input, output and error are inherited.
pub fn run_child(argv: &[OsString], env: &ChildEnv) -> Result<ChildExit, ExecError> {
    let (program, args) = argv.split_first().ok_or(ExecError::NoProgram)?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    let status = run(&mut cmd, program)?;
    Ok(ChildExit::of(status))
}

/// The program as named in messages and the audit log (never its arguments).
pub(crate) fn program_name(program: &OsString) -> String {
    program.to_string_lossy().into_owned()
}

fn spawn_error(program: &OsString, err: std::io::Error) -> ExecError {
    let program = program_name(program);
    if err.kind() == std::io::ErrorKind::NotFound {
        ExecError::NotFound { program }
    } else {
        ExecError::NotExecutable {
            program,
            reason: err.to_string(),
        }
    }
}

#[cfg(unix)]
fn run(cmd: &mut Command, program: &OsString) -> Result<ExitStatus, ExecError> {
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::WithOrigin;

    // Caught from before the start, so none is lost (nor kills us) while
    // the child starts.
    let mut signals =
        SignalsInfo::<WithOrigin>::new(forward::FORWARDED).map_err(ExecError::Signals)?;
    let mut child: Child = cmd.spawn().map_err(|e| spawn_error(program, e))?;
    let pid = rustix::process::Pid::from_child(&child);
    for early in signals.pending() {
        forward::send(pid, early.signal);
    }
    let handle = signals.handle();
    let forwarder = std::thread::Builder::new()
        .name("exec-signals".into())
        .spawn(move || {
            for origin in signals.forever() {
                if !forward::sent_by_terminal(&origin) {
                    forward::send(pid, origin.signal);
                }
            }
        });
    if let Err(e) = &forwarder {
        tracing::warn!(error = %e, "cannot forward signals to the program");
    }
    forward::wait_exited(pid);
    handle.close();
    if let Ok(thread) = forwarder
        && thread.join().is_err()
    {
        tracing::warn!("the signal forwarder stopped unexpectedly");
    }
    child.wait().map_err(ExecError::Wait)
}

#[cfg(not(unix))]
fn run(cmd: &mut Command, program: &OsString) -> Result<ExitStatus, ExecError> {
    let mut child: Child = cmd.spawn().map_err(|e| spawn_error(program, e))?;
    child.wait().map_err(ExecError::Wait)
}

#[cfg(unix)]
mod forward {
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process, waitid};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::low_level::siginfo::{Cause, Origin};

    /// The signals sent on to the child.
    pub(super) const FORWARDED: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

    /// Sent by the kernel: a terminal's key or hang-up, which reached the
    /// child's process group (ours) as well.
    pub(super) fn sent_by_terminal(origin: &Origin) -> bool {
        matches!(origin.cause, Cause::Kernel)
    }

    pub(super) fn send(pid: Pid, signal: i32) {
        let signal = match signal {
            SIGINT => Signal::INT,
            SIGTERM => Signal::TERM,
            SIGHUP => Signal::HUP,
            SIGQUIT => Signal::QUIT,
            _ => return,
        };
        if let Err(e) = kill_process(pid, signal) {
            // The child may be exiting already (not reaped yet: ESRCH
            // cannot mean another process).
            tracing::debug!(error = %e, "could not forward a signal to the program");
        }
    }

    /// Blocks until the child has ended, leaving it to be reaped.
    pub(super) fn wait_exited(pid: Pid) {
        loop {
            match waitid(
                WaitId::Pid(pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot wait for the program without reaping it");
                    return;
                }
                Ok(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_end_as_128_plus_their_number_and_codes_pass_through() {
        assert_eq!(ChildExit::Code(0).exit_code(), 0);
        assert_eq!(ChildExit::Code(7).exit_code(), 7);
        assert_eq!(ChildExit::Code(256 + 3).exit_code(), 3);
        assert_eq!(ChildExit::Signal(15).exit_code(), 143);
        assert_eq!(ChildExit::Signal(2).exit_code(), 130);
    }

    #[test]
    fn an_empty_command_line_is_refused() {
        let env = ChildEnv::for_pipeline(
            "https://x.atlassian.net",
            super::super::Handover::Bearer { token: "t".into() },
        );
        assert!(matches!(run_child(&[], &env), Err(ExecError::NoProgram)));
    }
}
