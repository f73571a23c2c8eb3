//! `exec [--proxy] -- CMD [ARGS…]`: the pipeline started with the
//! credentials in its environment, or (`--proxy`) with the address of a
//! loopback proxy that holds them for the program's lifetime. Nothing is
//! printed of ours on success: stdout and stderr are the program's.

use std::ffi::OsString;

use time::OffsetDateTime;

use super::CliError;
use crate::config::Settings;
use crate::credentials::Credentials;
use crate::exec::{ChildEnv, run_child, started_record, stored_handover};
use crate::exit::Exit;

/// The flags of `exec`.
pub(super) struct ExecArgs {
    pub argv: Vec<OsString>,
    pub proxy: bool,
    pub allow_writes: bool,
}

pub(super) fn run(args: ExecArgs, settings: Settings) -> Result<Exit, CliError> {
    if args.proxy {
        return run_with_proxy(args, settings);
    }
    let argv = args.argv;
    let settings = &settings;
    let program = argv
        .first()
        .cloned()
        .ok_or(crate::exec::ExecError::NoProgram)?;
    let creds = Credentials::open(settings);
    let (site, handover, gateway_cookie) =
        stored_handover(settings, &creds, OffsetDateTime::now_utc())?;
    let mode = handover.mode();
    let mut env = ChildEnv::for_pipeline(site.as_str(), handover);
    if let Some(cookie) = gateway_cookie {
        env = env.with_cookie(cookie);
    }
    // Written before the program starts: no credential is handed out
    // without its record, and a log that cannot be written stops it here.
    creds.record(started_record(&site, mode, &program))?;
    tracing::info!(%site, %mode, "starting the program with the credentials in its environment");
    let ended = run_child(&argv, &env)?;
    tracing::info!(?ended, "the program ended");
    Ok(Exit::Program(ended.exit_code()))
}

/// `exec --proxy`: the proxy starts first (refusing, like `proxy`, with
/// 2–6 when nothing usable is stored), the program gets only its URL and
/// the per-run token, and the proxy stops when the program ends.
fn run_with_proxy(args: ExecArgs, settings: Settings) -> Result<Exit, CliError> {
    use crate::exec::{Handover, started_through_proxy_record};
    use crate::proxy::{PROXY_USERNAME, ProxyOptions, ProxyToken};

    let program = args
        .argv
        .first()
        .cloned()
        .ok_or(crate::exec::ExecError::NoProgram)?;
    let site = settings
        .site()
        .ok_or(crate::credentials::CredentialError::NoSite {
            action: "run the command again",
        })?;
    let creds = Credentials::open(&settings);
    let rt = super::runtime()?;
    rt.block_on(async move {
        let token = ProxyToken::generate()
            .map_err(|e| CliError::Internal(format!("cannot make a random token: {e}")))?;
        let mut opts = ProxyOptions::new(token);
        opts.allow_writes = args.allow_writes;
        let owner = super::proxy::session_owner(settings);
        let handle =
            crate::proxy::start(crate::proxy::SessionSource::fixed(owner.session()), opts).await?;
        let env = ChildEnv::for_pipeline(
            handle.base_url().as_str(),
            Handover::Basic {
                username: PROXY_USERNAME.to_string(),
                token: crate::secret::SecretString::from(
                    crate::secret::ExposeSecret::expose_secret(handle.token()).to_string(),
                ),
            },
        );
        creds.record(started_through_proxy_record(
            &site,
            handle.base_url(),
            &program,
        ))?;
        tracing::info!(%site, proxy = %handle.base_url(), "starting the program with the proxy in its environment");
        let argv = args.argv;
        let ended = tokio::task::spawn_blocking(move || run_child(&argv, &env))
            .await
            .map_err(|e| CliError::Internal(format!("the program's waiter failed: {e}")))?;
        if let Err(e) = handle.shutdown().await {
            tracing::warn!(error = %e, "the proxy did not stop cleanly");
        }
        let ended = ended?;
        tracing::info!(?ended, "the program ended");
        Ok(Exit::Program(ended.exit_code()))
    })
}
