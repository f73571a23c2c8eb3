//! The home screen: credential status cards, actions, and the guidance
//! panel that walks the user to fresh cookies.

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Paragraph, Widget};
use time::OffsetDateTime;

use crate::confluence::client::TrustedBy;
use crate::cookies::jar::{ExpiryState, format_time_left};
use crate::session::NextCheck;
use crate::text::for_terminal;
use crate::tui::app::{Ctx, Dialog, Handled};
use crate::tui::keys::{self, Action, Binding, Rank, k};
use crate::tui::session::{SessionState, SessionView};
use crate::tui::theme::Theme;
use crate::tui::widgets::fit::fit_line;
use crate::tui::widgets::wrap::hanging;
use crate::worker::Mutation;

/// Keys of the status screen.
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[k('c')],
        action: Action::ClearCookies,
        label: "clear",
        rank: Rank::More,
        help: "clear the stored cookies (asks first)",
    },
    Binding {
        keys: &[k('t')],
        action: Action::EnterToken,
        label: "token",
        rank: Rank::Useful,
        help: "enter an API token (masked; stored encrypted)",
    },
    Binding {
        keys: &[k('r')],
        action: Action::ReloadSettings,
        label: "reload",
        rank: Rank::Useful,
        help: "reload settings (.env and environment)",
    },
];

/// The status screen's browser import: ranked after the global keys, so a
/// narrow footer keeps `o` and `p` (the ways back in) before it.
pub(crate) const BROWSER_KEYS: &[Binding] = &[Binding {
    keys: &[k('b')],
    action: Action::ImportFromBrowser,
    rank: super::super::keys::Rank::More,
    label: "browser",
    help: "import from a browser profile (lists those found)",
}];

/// The status screen's key while no site is set (not the demo): in the
/// footer and help only then.
pub(crate) const SETUP_KEYS: &[Binding] = &[Binding {
    keys: &[k('s')],
    action: Action::SetUp,
    rank: super::super::keys::Rank::Main,
    label: "setup",
    help: "set up a site: its address (checked live), then how to sign in",
}];

/// The status screen keeps no state of its own: it draws the session view.
#[derive(Debug, Default)]
pub struct StatusState;

impl StatusState {
    /// Screen keys; dialogs are opened by the app from the returned request.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match keys::lookup(&[KEYS, BROWSER_KEYS], key) {
            Some(Action::ClearCookies) => {
                ctx.request_dialog(Dialog::ConfirmClear);
                Handled::Yes
            }
            Some(Action::EnterToken) => {
                ctx.request_dialog(Dialog::Token(Box::default()));
                Handled::Yes
            }
            Some(Action::ReloadSettings) => {
                ctx.mutate(Mutation::ReloadSettings);
                Handled::Yes
            }
            Some(Action::ImportFromBrowser) => {
                crate::tui::screens::browsers::open(ctx);
                Handled::Yes
            }
            _ => Handled::No,
        }
    }
}

/// Draws the status screen for `session` at `now`; `demo` when the session
/// is the built-in demo site's (its guidance speaks of the demo).
pub fn render(
    session: &SessionView,
    demo: bool,
    now: OffsetDateTime,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let card_width = usize::from(area.width.saturating_sub(2));
    // A card row that does not fit ends with `…`.
    let cards: Vec<Line> = cards(session, now, theme)
        .into_iter()
        .map(|l| fit_line(l, card_width))
        .collect();
    let card_height = cards.len() as u16 + 2;
    let text_width = usize::from(area.width.saturating_sub(2));
    let guidance_for = |compact| {
        let g = if demo {
            demo_guidance(session, now, theme, compact)
        } else {
            guidance(session, now, theme, compact)
        };
        g.map(|(title, lines)| (title, wrap_lines(lines, text_width)))
    };
    // The steps matter more than the card (the header shows the badge,
    // the site and the user): on a short terminal the card goes first,
    // then the steps take their short form.
    let fits = |lines: &[Line], card: u16| lines.len() as u16 + 2 + card <= area.height;
    let (card, guidance) = match guidance_for(false) {
        Some(g) if fits(&g.1, card_height) => (true, Some(g)),
        Some(g) if fits(&g.1, 0) => (false, Some(g)),
        Some(_) => (false, guidance_for(true)),
        None => (true, None),
    };
    let [top, bottom] = Layout::vertical([
        Constraint::Length(if card { card_height } else { 0 }),
        Constraint::Min(0),
    ])
    .areas(area);
    if card {
        Paragraph::new(Text::from(cards))
            .block(Block::bordered().title(" Credentials "))
            .render(top, buf);
    }
    if let Some((title, lines)) = guidance {
        Paragraph::new(Text::from(lines))
            .block(Block::bordered().title(title).border_style(theme.warn()))
            .render(bottom, buf);
    } else {
        let lines = vec![
            Line::from(vec![
                Span::styled(" v", theme.key()),
                Span::raw(" verify now   "),
                Span::styled("p", theme.key()),
                Span::raw(" paste cookies   "),
                Span::styled("o", theme.key()),
                Span::raw(" open the login page"),
            ]),
            Line::from(vec![
                Span::styled(" c", theme.key()),
                Span::raw(" clear cookies   "),
                Span::styled("t", theme.key()),
                Span::raw(" enter an API token   "),
                Span::styled("r", theme.key()),
                Span::raw(" reload settings"),
            ]),
            Line::from(vec![
                Span::styled(" 2", theme.key()),
                Span::raw(" spaces   "),
                Span::styled("3", theme.key()),
                Span::raw(" audit log   "),
                Span::styled("4", theme.key()),
                Span::raw(" pipeline   "),
                Span::styled("?", theme.key()),
                Span::raw(" help"),
            ]),
        ];
        Paragraph::new(Text::from(lines))
            .block(Block::bordered().title(" Actions "))
            .render(bottom, buf);
    }
}

/// Guidance lines wrapped to `width` between words; a step's later lines
/// hang under its text (`   1. Press o…` continues under `Press`).
fn wrap_lines(lines: Vec<Line<'_>>, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for line in lines {
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        let style = line.spans.first().map(|s| s.style).unwrap_or_default();
        for part in hanging(&text, width, step_indent(&text)) {
            out.push(Line::from(Span::styled(part, style)).style(line.style));
        }
    }
    out
}

/// Where the text of a line starts: after its leading spaces and a step
/// number (`1. `), if any.
fn step_indent(text: &str) -> usize {
    let rest = text.trim_start_matches(' ');
    let lead = text.len() - rest.len();
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && rest[digits..].starts_with(". ") {
        lead + digits + 2
    } else {
        lead
    }
}

fn row<'a>(label: &'a str, value: Vec<Span<'a>>, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(format!(" {label:<9}"), theme.dim())];
    spans.extend(value);
    Line::from(spans)
}

fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    if secs < 5 {
        "just now".into()
    } else {
        format!("{} ago", about(secs))
    }
}

/// A span of time as a person says it on a status line: the largest unit
/// and, above an hour, the next (`45 s`, `3 min`, `2 h 5 min`, `3 d 4 h`).
fn about(secs: i64) -> String {
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match () {
        _ if days > 0 => format!("{days} d {hours} h"),
        _ if hours > 0 && mins > 0 => format!("{hours} h {mins} min"),
        _ if hours > 0 => format!("{hours} h"),
        _ if mins > 0 => format!("{mins} min"),
        _ => format!("{secs} s"),
    }
}

/// When the keep-alive asks the site next, for the User row: while the
/// session is signed in, being checked or unreachable.
fn next_check(s: &SessionView, now: OffsetDateTime) -> Option<String> {
    if !matches!(
        s.state,
        SessionState::SignedIn | SessionState::Checking | SessionState::Unreachable { .. }
    ) || s.site.is_none()
    {
        return None;
    }
    Some(match s.next_check? {
        NextCheck::At(at) => {
            let left = (at - now).whole_seconds().max(0);
            if left < 5 {
                "next check now".into()
            } else {
                format!("next check in {}", about(left))
            }
        }
        NextCheck::Off => "keep-alive off".into(),
        NextCheck::AfterFreshCredentials => "next check once fresh credentials are stored".into(),
    })
}

fn cards<'a>(s: &'a SessionView, now: OffsetDateTime, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let site = match (&s.site, &s.deployment) {
        (Some(site), Some(d)) => vec![
            Span::raw(site.as_str()),
            Span::styled(format!("  ({d})"), theme.dim()),
        ],
        (Some(site), None) => vec![Span::raw(site.as_str())],
        (None, _) => vec![Span::styled("not set (CONFLUENCE_BASE_URL)", theme.error())],
    };
    lines.push(row("Site", site, theme));
    let auth = match (s.mode, &s.why) {
        (Some(m), Some(why)) => vec![
            Span::styled(m.to_string(), theme.title()),
            Span::styled(format!("  {}", for_terminal(why)), theme.dim()),
        ],
        _ => auth_before_verifying(s, now, theme),
    };
    lines.push(row("Auth", auth, theme));
    // The display name and failure messages are the server's: escaped.
    let mut user = match (&s.state, &s.user, s.last_verified) {
        (SessionState::SignedIn, Some(u), Some(t)) => vec![
            Span::styled(for_terminal(u), theme.ok()),
            Span::styled(format!("  verified {}", ago(t, now)), theme.dim()),
        ],
        (SessionState::SignedIn, Some(u), None) => vec![Span::styled(for_terminal(u), theme.ok())],
        (SessionState::Checking, _, _) => vec![Span::styled("checking…", theme.dim())],
        (SessionState::Failed { message, .. }, _, _) => {
            vec![Span::styled(
                for_terminal(message).into_owned(),
                theme.error(),
            )]
        }
        (SessionState::Rejected { reason, .. }, _, _) => vec![Span::styled(
            format!("signed out: {}", for_terminal(reason)),
            theme.error(),
        )],
        (SessionState::Expired { reason, .. }, _, _) => vec![Span::styled(
            format!("signed out: {}", for_terminal(reason)),
            theme.error(),
        )],
        (SessionState::Captcha { .. }, _, _) => {
            vec![Span::styled("blocked by a CAPTCHA", theme.error())]
        }
        (SessionState::Gateway { gateway, .. }, _, _) => vec![Span::styled(
            format!("{gateway} wants its own sign-in"),
            theme.error(),
        )],
        (SessionState::Unreachable { .. }, _, _) => {
            vec![Span::styled("the site does not answer", theme.warn())]
        }
        _ => vec![Span::styled("not signed in", theme.dim())],
    };
    if let Some(next) = next_check(s, now) {
        user.push(Span::styled(format!(" · {next}"), theme.dim()));
    }
    lines.push(row("User", user, theme));
    let cookies = match s.stored.as_ref().and_then(|st| st.cookies.as_ref()) {
        None if s.stored.is_none() => vec![Span::styled("reading the vault…", theme.dim())],
        None => vec![Span::styled("none stored", theme.dim())],
        Some(c) => {
            let session = if c.session_cookies.is_empty() {
                Span::styled("no session cookie", theme.warn())
            } else {
                Span::styled("session cookie ✓", theme.ok())
            };
            let expiry = match s.cookie_state(now) {
                Some(ExpiryState::Valid { left }) => {
                    Span::styled(format!("expires in {}", format_time_left(left)), theme.ok())
                }
                Some(ExpiryState::ExpiresSoon { left }) => Span::styled(
                    format!("expires in {}", format_time_left(left)),
                    theme.warn(),
                ),
                Some(_) => Span::styled("EXPIRED", theme.error()),
                None => Span::raw(""),
            };
            vec![
                Span::raw(format!("{} stored · ", c.names.len())),
                session,
                Span::raw(" · "),
                expiry,
                Span::styled(format!(" · saved {}", short_time(c.saved_at)), theme.dim()),
            ]
        }
    };
    lines.push(row("Cookies", cookies, theme));
    let token = match (
        s.token_in_environment,
        s.stored.as_ref().map(|st| st.token_stored),
    ) {
        (true, _) => "from the environment (CONFLUENCE_API_TOKEN)",
        (false, Some(true)) => "stored in the vault",
        _ => "none",
    };
    lines.push(row("Token", vec![Span::raw(token)], theme));
    if let Some(gateway) = gateway_row(s, theme) {
        lines.push(row("Gateway", gateway, theme));
    }
    if let Some(by) = s.trusted_by {
        let roots = match by {
            TrustedBy::System => "verified by the system's trusted roots",
            TrustedBy::Bundle => "verified by CONFLUENCE_CA_BUNDLE",
        };
        lines.push(row("TLS", vec![Span::raw(roots)], theme));
    }
    let vault = match &s.stored {
        None => vec![Span::styled("…", theme.dim())],
        Some(st) => {
            let perms = if st.permission_warnings.is_empty() {
                Span::styled("permissions ok", theme.ok())
            } else {
                Span::styled("permissions too open!", theme.error())
            };
            let binding = match (st.vault_exists, st.machine_bound, st.passphrase_used) {
                (false, _, _) => "not created yet".to_string(),
                (true, Some(m), Some(p)) => format!(
                    "{} · passphrase {}",
                    if m {
                        "machine-bound"
                    } else {
                        "not machine-bound"
                    },
                    if p { "used" } else { "not used" }
                ),
                _ => String::new(),
            };
            vec![perms, Span::styled(format!(" · {binding}"), theme.dim())]
        }
    };
    lines.push(row("Vault", vault, theme));
    if let Some(st) = &s.stored {
        lines.push(row(
            "",
            vec![Span::styled(
                st.vault_path.display().to_string(),
                theme.dim(),
            )],
            theme,
        ));
    }
    lines
}

/// What a gateway in front of the site gets from us: stored service
/// tokens and headers, a client certificate, gateway cookies (names only).
fn gateway_row<'a>(s: &SessionView, theme: &Theme) -> Option<Vec<Span<'a>>> {
    let stored = s.stored.as_ref()?;
    let cookies = stored
        .cookies
        .as_ref()
        .map(|c| c.gateway_cookies.clone())
        .unwrap_or_default();
    if stored.gateway.is_empty() && cookies.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = stored
        .gateway
        .iter()
        .map(|g| match g.as_str() {
            "cloudflare" => "Cloudflare service token".to_string(),
            crate::credentials::CLIENT_CERT_NAME => "client certificate".to_string(),
            header => format!("header {}", for_terminal(header)),
        })
        .collect();
    if !cookies.is_empty() {
        parts.push(format!("cookie {}", for_terminal(&cookies.join(", "))));
    }
    Some(vec![
        Span::raw(parts.join(" · ")),
        Span::styled("  sent with every request", theme.dim()),
    ])
}

/// The auth line before a verification said which mode is in use: what
/// the stored credentials make it, so stored cookies never read as "not
/// chosen".
fn auth_before_verifying<'a>(s: &SessionView, now: OffsetDateTime, theme: &Theme) -> Vec<Span<'a>> {
    // A gateway's cookies alone do not sign in to Confluence.
    let cookies = s
        .stored
        .as_ref()
        .and_then(|st| st.cookies.as_ref())
        .filter(|c| c.gateway_cookies.len() < c.names.len());
    let token = s.token_in_environment || s.stored.as_ref().is_some_and(|st| st.token_stored);
    let (mode, note) = match (cookies, token) {
        (Some(_), _) => match s.cookie_state(now) {
            Some(ExpiryState::Valid { .. } | ExpiryState::ExpiresSoon { .. }) => {
                ("cookie", "browser cookies are stored")
            }
            _ if token => ("token", "the stored cookies have expired; a token is set"),
            _ => ("cookie", "the stored cookies have expired"),
        },
        (None, true) => ("token", "a token is set"),
        (None, false) if s.stored.is_none() => return vec![Span::styled("…", theme.dim())],
        (None, false) => return vec![Span::styled("none yet: nothing is stored", theme.dim())],
    };
    let checking = if s.state == SessionState::Checking {
        "; checking…"
    } else {
        ""
    };
    vec![
        Span::styled(mode, theme.title()),
        Span::styled(format!("  {note}{checking}"), theme.dim()),
    ]
}

fn short_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// The guidance panel: why, then the steps to fresh cookies or settings;
/// `compact`: the steps in their short form, for a short terminal.
fn guidance<'a>(
    s: &'a SessionView,
    now: OffsetDateTime,
    theme: &Theme,
    compact: bool,
) -> Option<(&'static str, Vec<Line<'a>>)> {
    let mut lines = Vec::new();
    if s.site.is_none() {
        lines.push(Line::from(vec![
            Span::styled(" No site is configured. Press ", theme.warn()),
            Span::styled("s", theme.key()),
            Span::styled(" to set one up, step by step,", theme.warn()),
        ]));
        lines.push(Line::styled(
            format!(
                " or put these lines in {} (or export them), then press r:",
                s.env_file
            ),
            theme.warn(),
        ));
        for l in [
            "CONFLUENCE_BASE_URL=https://your-site.atlassian.net/wiki",
            "CONFLUENCE_USERNAME=you@example.com",
            "CONFLUENCE_API_TOKEN=<your-api-token>",
        ] {
            lines.push(Line::styled(format!("   {l}"), theme.key()));
        }
        lines.push(Line::raw(" On SSO sites without API tokens, set only CONFLUENCE_BASE_URL and paste browser cookies (p)."));
        lines.push(Line::raw(" Every setting is described in .env.example."));
        return Some((" Set up ", lines));
    }
    if !s.needs_cookie_guidance(now) && !matches!(s.state, SessionState::NoCredentials { .. }) {
        return None;
    }
    if let SessionState::Gateway {
        gateway, login_url, ..
    } = &s.state
    {
        return Some((
            " Sign in to the gateway ",
            gateway_guidance(gateway, login_url.as_deref(), theme, compact),
        ));
    }
    let reason = match &s.state {
        SessionState::Expired { reason, status } => format!(
            " Session expired: {reason}{}",
            status.map(|c| format!(" (HTTP {c})")).unwrap_or_default()
        ),
        SessionState::Captcha { login_url, status } => format!(
            " The site demands a CAPTCHA{}. Sign in through the browser{}; retrying here would make it worse.",
            status.map(|c| format!(" (HTTP {c})")).unwrap_or_default(),
            login_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        ),
        SessionState::NoCredentials { message } => format!(" {message}"),
        _ => " The stored cookies have expired.".into(),
    };
    // The reason and the login URL are the server's: escaped.
    lines.push(Line::styled(
        for_terminal(&reason).into_owned(),
        theme.error(),
    ));
    let (steps, drop_in) = if compact {
        (
            [
                "1. o opens the site's login page: sign in.",
                "2. F12 → Network: click a request to the site.",
                "3. Copy its Cookie: header (or Copy as cURL).",
                "4. p here: read, previewed, saved encrypted.",
            ],
            "   Or drop them in cookies/confluence_cookies.txt.",
        )
    } else {
        (
            [
                "1. Press o to open the site's login page in the browser; sign in.",
                "2. Developer tools (F12) → Network: click a request to the site.",
                "3. Copy its Cookie: request header (or right-click → Copy as cURL).",
                "4. Press p here: the clipboard is read, previewed, saved encrypted.",
            ],
            "   Or drop them in cookies/confluence_cookies.txt (data dir): imported, emptied.",
        )
    };
    for st in steps {
        lines.push(Line::raw(format!("   {st}")));
    }
    lines.push(Line::styled(drop_in, theme.dim()));
    Some((" Get fresh cookies ", lines))
}

/// How to get past a gateway that wants its own sign-in: in the browser,
/// then its cookie imported; Confluence's own credentials are kept.
fn gateway_guidance<'a>(
    gateway: &crate::confluence::classify::Gateway,
    login_url: Option<&str>,
    theme: &Theme,
    compact: bool,
) -> Vec<Line<'a>> {
    let at = login_url.map(|u| format!(" ({u})")).unwrap_or_default();
    // The gateway's login URL is the server's: escaped.
    let said = format!("{gateway} in front of the site wants you to sign in{at}.");
    let mut chars = said.chars();
    let said: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let mut lines = vec![Line::styled(
        format!(" {}", for_terminal(&said)),
        theme.error(),
    )];
    lines.push(Line::styled(
        " Confluence's own cookies and token are kept: only the gateway's session ended.",
        theme.dim(),
    ));
    if matches!(gateway, crate::confluence::classify::Gateway::Negotiate) {
        lines.push(Line::raw(
            " It asks for Kerberos, which confluence-tui cannot do: sign in through the browser and import the gateway's cookie, or ask for a service token.",
        ));
    }
    let steps = if compact {
        [
            "1. o opens the gateway's sign-in: sign in.",
            "2. Copy a request's Cookie: header (F12 → Network).",
            "3. p here (or b: read it from the browser).",
        ]
    } else {
        [
            "1. Press o to open the gateway's sign-in in the browser; sign in.",
            "2. Developer tools (F12) → Network: copy a request's Cookie: header.",
            "3. Press p here (or b to read the login from the browser itself).",
        ]
    };
    for st in steps {
        lines.push(Line::raw(format!("   {st}")));
    }
    lines.push(Line::styled(
        "   A stored service token was refused? `confluence-tui gateway set` stores a new one.",
        theme.dim(),
    ));
    lines
}

/// The guidance in the demo: how to sign in to the demo site (never which
/// settings to set: the demo has none), and how to get a fresh demo session
/// after an expiry or a CAPTCHA.
fn demo_guidance<'a>(
    s: &'a SessionView,
    now: OffsetDateTime,
    theme: &Theme,
    compact: bool,
) -> Option<(&'static str, Vec<Line<'a>>)> {
    let login = s.login_page.as_deref().unwrap_or("the demo login page");
    let mut lines = Vec::new();
    let title = match &s.state {
        SessionState::NoCredentials { .. } => {
            lines.push(Line::styled(
                " This is the demo: a fake Confluence site on this machine. Sign in to it:",
                theme.ok(),
            ));
            " Sign in to the demo "
        }
        SessionState::Expired { .. } | SessionState::Captcha { .. } => {
            let reason = match &s.state {
                SessionState::Captcha { .. } => {
                    " The demo site demands a CAPTCHA: only a sign-in on its login page clears it."
                        .to_string()
                }
                SessionState::Expired { reason, .. } => {
                    format!(" The demo session has ended: {reason}")
                }
                _ => String::new(),
            };
            lines.push(Line::styled(
                for_terminal(&reason).into_owned(),
                theme.error(),
            ));
            " Get a fresh demo session "
        }
        SessionState::SignedIn if s.needs_cookie_guidance(now) => {
            lines.push(Line::styled(
                " The demo cookies have expired.",
                theme.error(),
            ));
            " Get a fresh demo session "
        }
        _ => return None,
    };
    let captcha = matches!(s.state, SessionState::Captcha { .. });
    let steps = match (compact, captcha) {
        (false, true) => [
            "1. Press o, then Sign in on the demo login page (that clears the CAPTCHA).",
            "2. Copy the line it shows: the demo session's Cookie: header.",
            "3. Press p here: the clipboard is read, previewed, saved, verified.",
        ],
        (false, false) => [
            "1. Press o: the demo login page opens in the browser.",
            "2. Copy the line it shows: the demo session's Cookie: header.",
            "3. Press p here: the clipboard is read, previewed, saved, verified.",
        ],
        (true, true) => [
            "1. o, then Sign in on the demo login page.",
            "2. Copy the Cookie: line it shows.",
            "3. p here: read, previewed, saved, verified.",
        ],
        (true, false) => [
            "1. o opens the demo login page.",
            "2. Copy the Cookie: line it shows.",
            "3. p here: read, previewed, saved, verified.",
        ],
    };
    for step in steps {
        lines.push(Line::raw(format!("   {step}")));
    }
    lines.push(Line::styled(
        format!("   No browser? Open {login} yourself."),
        theme.dim(),
    ));
    if matches!(s.state, SessionState::NoCredentials { .. }) {
        lines.push(Line::raw(format!(
            "   Or press t and enter the demo API token, {}.",
            crate::demo::DEMO_API_TOKEN
        )));
    }
    let keys = match s.state {
        SessionState::Captcha { .. } => {
            "   Demo keys: X stops the CAPTCHA · x ends the session now."
        }
        _ => "   Demo keys: x ends the session now · X makes the site demand a CAPTCHA.",
    };
    lines.push(Line::styled(keys, theme.dim()));
    Some((title, lines))
}
