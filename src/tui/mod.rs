//! The full-screen interface. Three actors talk through typed channels: the
//! input stream (crossterm `EventStream`), this loop (which owns `App`), and
//! the worker. The loop never awaits the network or scrypt; it draws only
//! when something changed.

pub mod app;
pub mod clipboard;
pub mod keys;
pub mod screens;
pub mod session;
pub mod theme;
pub mod view;
pub mod widgets;

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

use self::app::{App, Effect, Msg, Screen};
use self::session::SessionView;
use self::theme::Theme;
use crate::config::{FlagOverrides, Settings};
use crate::confluence::client::{RetryPolicy, api_base, detect_deployment};
use crate::credentials::ImportInput;
use crate::vault::MachineIdSource;
use crate::worker::{self, Command, Event, JobKind, WorkerOptions};

/// How often the intake file (dropped-in cookies) and, in follow mode, the
/// audit log's size are looked at: one `stat` each, no redraw unless changed.
const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Why the interface could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot use the terminal: {0}")]
    Terminal(#[from] io::Error),
    #[error("cannot start the demo site: {0}")]
    Demo(#[from] crate::demo::DemoError),
}

/// Runs the interface until the user quits.
pub fn run(settings: Settings, flags: FlagOverrides, demo: bool) -> Result<(), TuiError> {
    // Asked before any runtime thread exists: the `time` crate refuses to read
    // the local offset from a multi-threaded process on Unix.
    let local = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if demo {
            let d = demo_setup().await?;
            let login = d.server.login_url().to_string();
            let result = run_app(d.settings, flags, Some(login), local).await;
            d.server.shutdown().await;
            drop(d.data_dir);
            result
        } else {
            run_app(settings, flags, None, local).await
        }
    })
}

/// The demo: the fake site in-process, throw-away data and vault directories.
struct Demo {
    server: crate::demo::DemoServer,
    settings: Settings,
    data_dir: tempfile::TempDir,
}

/// Seconds a demo session lives, so a newcomer sees expiry and refresh.
const DEMO_SESSION_SECS: u64 = 300;

async fn demo_setup() -> Result<Demo, TuiError> {
    use crate::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};
    let faults = DemoFaults {
        latency: Duration::from_millis(15),
        session_expire_after: Some(Duration::from_secs(DEMO_SESSION_SECS)),
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
        ("CONFLUENCE_DATA_DIR", data_dir.path().display().to_string()),
        ("CONFLUENCE_KDF_LOG_N", "14".into()),
    ];
    let vars = vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let settings = Settings::from_vars(&FlagOverrides::default(), &vars)
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Demo {
        server,
        settings,
        data_dir,
    })
}

/// The site's login page: Cloud's is at the site root, Server/DC's under the base.
fn login_page(settings: &Settings) -> Option<String> {
    let base = settings.base_url.as_ref()?;
    let deployment = detect_deployment(base, settings.deployment);
    let api = api_base(base, deployment);
    Some(match deployment {
        crate::confluence::client::Deployment::Cloud => {
            format!("{}/login", api.origin().ascii_serialization())
        }
        crate::confluence::client::Deployment::Server => {
            format!("{}/login.action", api.as_str().trim_end_matches('/'))
        }
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
    flags: FlagOverrides,
    demo_login: Option<String>,
    local: time::UtcOffset,
) -> Result<(), TuiError> {
    let theme = Theme::from_env();
    let paths = settings.paths();
    let site = settings.base_url.as_ref().map(|u| u.to_string());
    let deployment = settings
        .base_url
        .as_ref()
        .map(|u| detect_deployment(u, settings.deployment).to_string());
    let login = demo_login.or_else(|| login_page(&settings));
    let session = SessionView::new(
        site,
        deployment,
        login,
        settings.env_file_looked_for.display().to_string(),
    );
    let mut app = App::new(session, OffsetDateTime::now_utc(), settings.cookie_ttl);
    app.audit.set_time_offset(local);
    let opts = WorkerOptions {
        flags,
        machine_id: MachineIdSource::System,
        retry: RetryPolicy::default(),
    };
    let mut w = worker::spawn(settings, opts);
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel::<Msg>();
    let driver = Driver {
        commands: w.commands.clone(),
        internal: internal_tx,
        audit_path: paths.audit_log.clone(),
        clipboard: Arc::new(Mutex::new(None)),
    };

    let (mut terminal, _guard) = TerminalGuard::enter()?;
    let mut input = EventStream::new();
    if let Ok(size) = terminal.size() {
        app.spaces.set_terminal_size(size.width, size.height);
    }
    for e in app.startup() {
        driver.perform(e, &mut app);
    }
    let mut intake_poll = tokio::time::interval(FILE_POLL_INTERVAL);
    intake_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut intake_pending = false;
    let mut audit_len = 0u64;
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|f| view::draw(&app, f.area(), f.buffer_mut(), &theme))?;
            dirty = false;
        }
        let tick = tick_period(&app);
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Some(Msg::Key(k)),
                Some(Ok(TermEvent::Paste(p))) => Some(Msg::Paste(p)),
                Some(Ok(TermEvent::Mouse(m))) => Some(Msg::Mouse(m)),
                Some(Ok(TermEvent::Resize(w, h))) => {
                    // Paging moves by what fits on screen.
                    app.spaces.set_terminal_size(w, h);
                    Some(Msg::Resize)
                }
                Some(Ok(_)) => None,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            ev = w.events.recv() => match ev {
                Some(ev) => {
                    if matches!(ev, Event::CookiesImported { .. } | Event::Error { kind: JobKind::Credentials, .. }) {
                        intake_pending = false;
                    }
                    Some(Msg::Worker(ev))
                }
                None => break,
            },
            m = internal_rx.recv() => m,
            _ = sleep_or_never(tick) => Some(Msg::Tick(OffsetDateTime::now_utc())),
            _ = intake_poll.tick() => {
                // Cookies dropped into the intake file while the app runs.
                if !intake_pending && std::fs::metadata(&paths.intake_file).is_ok_and(|m| m.is_file() && m.len() > 0) {
                    intake_pending = true;
                    let _ = driver.commands.send(Command::ImportCookies { input: ImportInput::IntakeFile });
                }
                if app.screen == Screen::Audit && app.audit.following() {
                    let len = std::fs::metadata(&paths.audit_log).map(|m| m.len()).unwrap_or(0);
                    if len != audit_len {
                        audit_len = len;
                        driver.perform(Effect::LoadAudit, &mut app);
                    }
                }
                None
            },
        };
        let Some(msg) = msg else { continue };
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
    Ok(())
}

/// When the screen shows something that changes with time, how often.
fn tick_period(app: &App) -> Option<Duration> {
    let waiting = app
        .flash
        .as_ref()
        .is_some_and(|f| f.text.starts_with("Rate limited"));
    if waiting {
        return Some(Duration::from_secs(1));
    }
    if app.screen != Screen::Status || app.dialog.is_some() {
        return None;
    }
    let near = app
        .session
        .stored
        .as_ref()
        .and_then(|s| s.cookies.as_ref())
        .is_some_and(|c| (c.expires_at - app.now) < time::Duration::hours(1));
    Some(if near {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(30)
    })
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Performs effects; slow ones run on the blocking pool and answer through
/// the internal channel.
struct Driver {
    commands: mpsc::UnboundedSender<Command>,
    internal: mpsc::UnboundedSender<Msg>,
    audit_path: PathBuf,
    /// Kept alive: on X11 the clipboard's content lives as long as its owner.
    clipboard: Arc<clipboard::SharedClipboard>,
}

impl Driver {
    fn perform(&self, effect: Effect, app: &mut App) {
        match effect {
            Effect::Worker(c) => {
                let _ = self.commands.send(c);
            }
            Effect::Quit => app.quit = true,
            Effect::OpenUrl(url) => {
                if let Err(e) = open::that_detached(&url) {
                    app.flash = Some(app::Flash {
                        text: format!("Could not open a browser ({e}); open {url} yourself"),
                        level: app::FlashLevel::Warning,
                    });
                } else {
                    app.flash = Some(app::Flash {
                        text: format!("Opened {url} in the browser"),
                        level: app::FlashLevel::Info,
                    });
                }
            }
            Effect::ReadClipboard => {
                let tx = self.internal.clone();
                let cb = self.clipboard.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Clipboard(clipboard::read_clipboard_text_with(&cb)));
                });
            }
            Effect::CopyToClipboard(text) => {
                match clipboard::write_clipboard_text(&self.clipboard, &text) {
                    Ok(()) => {
                        app.flash = Some(app::Flash {
                            text: format!("Copied {text}"),
                            level: app::FlashLevel::Success,
                        })
                    }
                    Err(why) => {
                        app.flash = Some(app::Flash {
                            text: format!("No clipboard ({why}): {text}"),
                            level: app::FlashLevel::Warning,
                        })
                    }
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
