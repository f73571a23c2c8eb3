//! The full-screen interface. Three actors talk through typed channels: the
//! input stream (crossterm `EventStream`), this loop (which owns `App`), and
//! the worker. The loop never awaits the network or scrypt; it draws only
//! when something changed.

pub mod app;
pub mod clipboard;
pub(crate) mod keys;
mod keys_doc;
pub(crate) mod messages;
pub mod screens;
mod serve;
pub mod session;
pub mod theme;
pub mod view;
mod watch;
pub(crate) mod widgets;

pub use keys_doc::readme_table;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent, EventStream,
};
use crossterm::execute;
use futures::StreamExt;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use self::app::{App, Effect, Msg, Screen, WatchedFile};
use self::session::SessionView;
use self::theme::Theme;
use crate::config::{DataPaths, FlagOverrides, Settings};
use crate::confluence::client::RetryPolicy;
use crate::vault::MachineIdSource;
use crate::worker::{self, SettingsSource, SiteInfo, WorkerOptions};

/// Why the interface could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot use the terminal: {0}")]
    Terminal(#[from] io::Error),
    #[error("cannot start the demo site: {0}")]
    Demo(#[from] crate::demo::DemoError),
}

/// Runs the interface on the configured site until the user quits; with
/// `serve`, the proxy runs from the start (`--serve`).
pub fn run(settings: Settings, flags: FlagOverrides, serve: bool) -> Result<(), TuiError> {
    let opts = WorkerOptions {
        keep_alive: true,
        ..WorkerOptions::new(SettingsSource::Environment(flags))
    };
    with_runtime(|local| async move { run_app(settings, opts, None, local, serve).await })
}

/// Runs the interface against the built-in demo site. Nothing of the user's
/// is read or written: no `.env`, no environment settings, no data dir.
/// With `serve`, the proxy serves the demo site once signed in.
pub(crate) fn run_demo(serve: bool) -> Result<(), TuiError> {
    with_runtime(|local| async move {
        let d = demo_setup().await?;
        crate::logging::init(&d.settings.paths().diagnostics_log);
        let opts = WorkerOptions {
            // `r` reads the demo's own settings again, never the user's.
            source: SettingsSource::Demo(d.vars),
            machine_id: MachineIdSource::System,
            retry: RetryPolicy::default(),
            login_page: Some(d.server.login_url().to_string()),
            keep_alive: true,
        };
        let result = run_app(d.settings, opts, Some(d.server.control()), local, serve).await;
        d.server.shutdown().await;
        drop(d.data_dir);
        result
    })
}

fn with_runtime<F, Fut>(body: F) -> Result<(), TuiError>
where
    F: FnOnce(time::UtcOffset) -> Fut,
    Fut: std::future::Future<Output = Result<(), TuiError>>,
{
    // Asked before any runtime thread exists: the `time` crate refuses to read
    // the local offset from a multi-threaded process on Unix.
    let local = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    // The screen is ours: a wait for another process's lock goes to the
    // diagnostics log, not over the interface.
    crate::fsutil::set_lock_notice_on_stderr(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(body(local))
}

/// The demo: the fake site in-process, throw-away data and vault directories.
struct Demo {
    server: crate::demo::DemoServer,
    settings: Settings,
    /// The settings' only source: a reload reads these again.
    vars: HashMap<String, String>,
    data_dir: tempfile::TempDir,
}

/// The demo's keep-alive: a death (by age, or `x`) shows within a minute.
const DEMO_KEEPALIVE_SECS: u64 = 60;

async fn demo_setup() -> Result<Demo, TuiError> {
    use crate::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};
    let faults = DemoFaults {
        latency: Duration::from_millis(15),
        session_expire_after: Some(crate::demo::DEMO_SESSION_LIFETIME),
        ..Default::default()
    };
    let config = DemoConfig {
        flavor: DemoFlavor::Cloud,
        data: DemoData {
            spaces: 1200,
            pages_per_space: 40,
        },
        faults,
    };
    let server = DemoServer::start(
        config,
        "127.0.0.1:0"
            .parse()
            .map_err(|e| io::Error::other(format!("{e}")))?,
    )
    .await?;
    let data_dir = tempfile::tempdir()?;
    let vars = [
        ("CONFLUENCE_BASE_URL", server.base_url().to_string()),
        ("CONFLUENCE_DEPLOYMENT", "cloud".into()),
        // The demo account, as its login page names it: `t` starts with it.
        ("CONFLUENCE_USERNAME", crate::demo::DEMO_EMAIL.into()),
        ("CONFLUENCE_DATA_DIR", data_dir.path().display().to_string()),
        ("CONFLUENCE_KDF_LOG_N", "14".into()),
        ("CONFLUENCE_KEEPALIVE_SECS", DEMO_KEEPALIVE_SECS.to_string()),
    ];
    let vars: HashMap<String, String> = vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let settings = SettingsSource::Demo(vars.clone())
        .load()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Demo {
        server,
        settings,
        vars,
        data_dir,
    })
}

/// Restores the terminal on drop, on error and on panic.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<(ratatui::DefaultTerminal, TerminalGuard)> {
        // ratatui::init enters raw mode and the alternate screen and installs
        // a panic hook that restores them; ours (below) also undoes paste and
        // mouse, then chains to it.
        let terminal = ratatui::try_init()?;
        execute!(io::stdout(), EnableBracketedPaste, EnableMouseCapture)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(io::stdout(), DisableMouseCapture, DisableBracketedPaste);
            previous(info);
        }));
        Ok((terminal, TerminalGuard))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), DisableMouseCapture, DisableBracketedPaste);
        ratatui::restore();
    }
}

async fn run_app(
    settings: Settings,
    opts: WorkerOptions,
    demo: Option<crate::demo::DemoControl>,
    local: time::UtcOffset,
    serve: bool,
) -> Result<(), TuiError> {
    let theme = Theme::from_env();
    let mut paths = settings.paths();
    let site = SiteInfo::from_settings(&settings, opts.login_page.as_deref());
    let mut app = App::new(
        SessionView::new(&site),
        OffsetDateTime::now_utc(),
        settings.cookie_ttl,
    );
    app.audit.set_time_offset(local);
    app.demo = demo.is_some();
    app.username_hint = settings.username.clone();
    app.gateway_cookies = settings.gateway_cookies.clone();
    app.pipeline.set_time_offset(local);
    // The keep-alive, the browser watch (a fresh login picked up while the
    // session is dead) and the session's state are the worker's session
    // owner's: one of each in the process, shared with the proxy.
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel::<Msg>();
    let mut w = worker::spawn(settings, opts);
    // Cookies dropped into the intake file, another process's vault writes
    // and audit records arrive as file events; without them (no inotify) the
    // app still works, it just learns of such changes on the next action.
    let mut watcher = watch_data_dir(&paths, &internal_tx);
    let mut driver = Driver {
        commands: w.commands.clone(),
        internal: internal_tx.clone(),
        audit_path: paths.audit_log.clone(),
        clipboard: Arc::new(Mutex::new(None)),
        demo,
        sessions: w.sessions.clone(),
        proxy: None,
    };

    let (mut terminal, _guard) = TerminalGuard::enter()?;
    let mut input = EventStream::new();
    if let Ok(size) = terminal.size() {
        app.set_terminal_size(size.width, size.height);
    }
    let mut startup = app.startup();
    if serve {
        startup.extend(app.serve());
    }
    // Cookies left in the intake file before the app started.
    if std::fs::symlink_metadata(&paths.intake_file).is_ok_and(|m| m.is_file() && m.len() > 0) {
        startup.extend(app.update(Msg::FileChanged(WatchedFile::Intake)));
    }
    for e in startup {
        driver.perform(e, &mut app);
    }
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|f| view::draw(&app, f.area(), f.buffer_mut(), &theme))?;
            dirty = false;
            #[cfg(debug_assertions)]
            panic_if_asked();
        }
        let tick = tick_period(&app);
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Some(Msg::Key(k)),
                Some(Ok(TermEvent::Paste(p))) => Some(Msg::Paste(p)),
                Some(Ok(TermEvent::Mouse(m))) => Some(Msg::Mouse(m)),
                Some(Ok(TermEvent::Resize(w, h))) => {
                    // Paging moves by what fits on screen; clicks land
                    // where the view draws.
                    app.set_terminal_size(w, h);
                    Some(Msg::Resize)
                }
                Some(Ok(_)) => None,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            ev = w.events.recv() => match ev {
                Some(ev) => Some(Msg::Worker(ev)),
                None => break,
            },
            m = internal_rx.recv() => m,
            _ = sleep_or_never(tick) => Some(Msg::Tick(OffsetDateTime::now_utc())),
        };
        let Some(msg) = msg else { continue };
        // A reload may have moved the data directory: watch the new one.
        if let Msg::Worker(worker::Event::Site(site)) = &msg
            && site.data_dir != paths.root
        {
            paths = DataPaths::new(&site.data_dir);
            drop(watcher.take());
            watcher = watch_data_dir(&paths, &internal_tx);
            driver.audit_path = paths.audit_log.clone();
        }
        app.now = OffsetDateTime::now_utc();
        for e in app.update(msg) {
            driver.perform(e, &mut app);
        }
        dirty = true;
        if app.quit {
            break;
        }
    }
    w.task.abort();
    if let Some(proxy) = driver.proxy.take() {
        proxy.finish().await;
    }
    Ok(())
}

/// Watches the data directory; without file events (no inotify) the app
/// still works, it just learns of others' changes on the next action.
fn watch_data_dir(
    paths: &DataPaths,
    tx: &mpsc::UnboundedSender<Msg>,
) -> Option<watch::FileWatcher> {
    match watch::watch(paths, tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the data directory");
            None
        }
    }
}

/// Lets the end-to-end test prove the terminal is restored on a panic. Only
/// in debug builds (the ones tests run): a release binary has no such hook.
#[cfg(debug_assertions)]
fn panic_if_asked() {
    if std::env::var_os("CONFLUENCE_TUI_PANIC_TEST").is_some() {
        panic!("panic requested by CONFLUENCE_TUI_PANIC_TEST");
    }
}

/// When the screen shows something that changes with time, how long until
/// it should be drawn again: a countdown every second; the status screen's
/// relative times every 30 s (every second in the last hour); and on every
/// screen the moment the header's badge turns EXPIRES SOON or EXPIRED by
/// the clock alone. Nothing else wakes an idle app.
fn tick_period(app: &App) -> Option<Duration> {
    if app.waiting.as_ref().is_some_and(|w| w.until > app.now) {
        return Some(Duration::from_secs(1));
    }
    // The session's own expiry (the snapshot's), else what is stored.
    let expires_at = app.session.expires_at.or_else(|| {
        app.session
            .stored
            .as_ref()
            .and_then(|s| s.cookies.as_ref())
            .map(|c| c.expires_at)
    });
    // The Pipeline screen's rate drops as requests leave its window.
    let rate = (app.screen == Screen::Pipeline && app.dialog.is_none())
        .then(|| app.pipeline.next_rate_change(app.now))
        .flatten();
    let relative = (app.screen == Screen::Status && app.dialog.is_none()).then(|| {
        let near = expires_at.is_some_and(|at| (at - app.now) < time::Duration::hours(1));
        if near {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(30)
        }
    });
    let badge = expires_at.and_then(|at| next_badge_change(at, app.now));
    [relative, badge, rate].into_iter().flatten().min()
}

/// How long until the clock alone changes the header's badge for cookies
/// that expire at `expires_at` (a second late, so the change has happened).
fn next_badge_change(expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<Duration> {
    let soon = expires_at - crate::cookies::jar::EXPIRES_SOON_THRESHOLD;
    [soon, expires_at].into_iter().find(|t| *t > now).map(|t| {
        let wait = (t - now).whole_seconds().max(0).unsigned_abs() + 1;
        Duration::from_secs(wait)
    })
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Performs effects. Nothing here blocks the loop: the clipboard, the
/// browser and the audit log are reached on the blocking pool, and their
/// answers come back through the internal channel.
struct Driver {
    commands: mpsc::UnboundedSender<worker::Command>,
    internal: mpsc::UnboundedSender<Msg>,
    audit_path: PathBuf,
    /// Kept alive: on X11 the clipboard's content lives as long as its owner.
    clipboard: Arc<clipboard::SharedClipboard>,
    /// The demo site's knobs (`--demo` only).
    demo: Option<crate::demo::DemoControl>,
    /// The worker's session owner in force: what the proxy serves.
    sessions: tokio::sync::watch::Receiver<Option<crate::session::Session>>,
    /// The proxy task, while one runs.
    proxy: Option<serve::Served>,
}

impl Driver {
    fn perform(&mut self, effect: Effect, app: &mut App) {
        match effect {
            Effect::Worker(c) => {
                let _ = self.commands.send(c);
            }
            Effect::Quit => app.quit = true,
            Effect::Bell => {
                use std::io::Write;
                let mut out = io::stdout();
                let _ = out.write_all(b"\x07").and_then(|()| out.flush());
            }
            Effect::OpenUrl(url) => {
                let tx = self.internal.clone();
                tokio::task::spawn_blocking(move || {
                    // The launcher's own words are for the diagnostics log.
                    let opened = match open::that_detached(&url) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::info!(error = %e, "no browser could be started");
                            false
                        }
                    };
                    let _ = tx.send(Msg::Opened { url, opened });
                });
            }
            Effect::ReadClipboard => {
                let tx = self.internal.clone();
                let cb = self.clipboard.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Clipboard(clipboard::read_clipboard_text_with(&cb)));
                });
            }
            Effect::CopyToClipboard(clip) => {
                let tx = self.internal.clone();
                let cb = self.clipboard.clone();
                tokio::task::spawn_blocking(move || {
                    let result = match &clip {
                        app::Clip::Text(text) => clipboard::write_clipboard_text(&cb, text),
                        app::Clip::Secret { text, .. } => {
                            use crate::secret::ExposeSecret;
                            clipboard::write_clipboard_text(&cb, text.expose_secret())
                        }
                    };
                    let _ = tx.send(Msg::Copied {
                        shown: clip.shown(),
                        secret: clip.is_secret(),
                        result,
                    });
                });
            }
            Effect::Demo(knob) => {
                let Some(demo) = &self.demo else { return };
                // A lock held for a moment: no need for the blocking pool.
                let change = match knob {
                    app::DemoKnob::EndSession => {
                        demo.end_session();
                        app::DemoChange::SessionEnded
                    }
                    app::DemoKnob::ToggleCaptcha => app::DemoChange::Captcha(demo.toggle_captcha()),
                };
                let _ = self.internal.send(Msg::Demo(change));
            }
            Effect::StartProxy => {
                // One proxy at a time: the app asks again only once it is
                // off; one that said `Stopped` may still be finishing, and
                // the new one waits for it.
                let previous = match self.proxy.take() {
                    Some(p) if p.is_running() && !p.is_stopping() => {
                        self.proxy = Some(p);
                        return;
                    }
                    Some(p) if p.is_stopping() => Some(p),
                    _ => None,
                };
                self.proxy = Some(serve::Served::start(
                    previous,
                    crate::proxy::SessionSource::follow(self.sessions.clone()),
                    self.internal.clone(),
                ));
            }
            Effect::StopProxy => {
                if let Some(p) = self.proxy.as_mut() {
                    p.stop();
                }
            }
            Effect::LoadAudit => {
                let tx = self.internal.clone();
                let path = self.audit_path.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::AuditLoaded(screens::audit::load_snapshot(&path)));
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    #[test]
    fn the_badge_wakes_the_app_when_the_cookies_expire_soon_and_when_they_expire() {
        let day = time::Duration::hours(24);
        // 25 h left: wake in an hour (plus the second), when EXPIRES SOON begins.
        let at = NOW + day + time::Duration::hours(1);
        assert_eq!(next_badge_change(at, NOW), Some(Duration::from_secs(3_601)));
        // 10 min left: wake at the expiry itself.
        let at = NOW + time::Duration::minutes(10);
        assert_eq!(next_badge_change(at, NOW), Some(Duration::from_secs(601)));
        // Already expired: nothing more will change by the clock.
        assert_eq!(
            next_badge_change(NOW - time::Duration::minutes(1), NOW),
            None
        );
    }
}
