//! `exec -- CMD [ARGS…]`: the pipeline started with the credentials in its
//! environment. Nothing is printed of ours on success: stdout and stderr
//! are the program's.

use std::ffi::OsString;

use time::OffsetDateTime;

use super::CliError;
use crate::config::Settings;
use crate::credentials::Credentials;
use crate::exec::{ChildEnv, run_child, started_record, stored_handover};
use crate::exit::Exit;

pub(super) fn run(argv: Vec<OsString>, settings: &Settings) -> Result<Exit, CliError> {
    let program = argv
        .first()
        .cloned()
        .ok_or(crate::exec::ExecError::NoProgram)?;
    let creds = Credentials::open(settings);
    let (site, handover) = stored_handover(settings, &creds, OffsetDateTime::now_utc())?;
    let mode = handover.mode();
    let env = ChildEnv::for_pipeline(site.as_str(), handover);
    // Written before the program starts: no credential is handed out
    // without its record, and a log that cannot be written stops it here.
    creds.record(started_record(&site, mode, &program))?;
    tracing::info!(%site, %mode, "starting the program with the credentials in its environment");
    let ended = run_child(&argv, &env)?;
    tracing::info!(?ended, "the program ended");
    Ok(Exit::Program(ended.exit_code()))
}
