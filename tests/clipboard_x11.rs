//! The paste dialog reads the X11 clipboard through arboard: a private Xvfb
//! server, `xclip` serving cookie text on it, then the same function the
//! driver calls, its answer fed to the dialog.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confluence_tui::confluence::client::Deployment;
use confluence_tui::tui::app::{App, ClipboardText, Dialog, Msg};
use confluence_tui::tui::clipboard::read_clipboard_text;
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::SiteInfo;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SESSION: &str = "SENTINEL-x11-session-0123456789-abcdefghijklmnopqrstuvwxyz";

/// Kills the child (Xvfb, xclip) when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn found(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`), so
/// parallel runs never collide.
fn start_xvfb() -> (Killed, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            "640x480x24",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Xvfb");
    let stdout = child.stdout.take().expect("Xvfb stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("Xvfb display number");
    let display = format!(":{}", line.trim());
    assert!(line.trim().parse::<u32>().is_ok(), "Xvfb said {line:?}");
    (Killed(child), display)
}

/// `xclip -quiet` stays in the foreground serving the selection until killed.
fn serve_clipboard(display: &str, text: &str) -> Killed {
    let mut child = Command::new("xclip")
        .args(["-quiet", "-selection", "clipboard", "-i"])
        .env("DISPLAY", display)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xclip");
    child
        .stdin
        .take()
        .expect("xclip stdin")
        .write_all(text.as_bytes())
        .expect("write to xclip");
    // Wait until xclip owns the selection (it reads stdin to the end first).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", display)
            .output()
            .expect("xclip -o");
        if out.status.success() && out.stdout == text.as_bytes() {
            break;
        }
        assert!(Instant::now() < deadline, "xclip never served the text");
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

#[test]
fn dialog_reads_cookies_from_the_x11_clipboard() {
    for program in ["Xvfb", "xclip"] {
        if !found(program) {
            eprintln!("skipped: {program} not found (install xvfb and xclip)");
            return;
        }
    }
    let (_xvfb, display) = start_xvfb();
    let cookies = format!("cloud.session.token={SESSION}; atlassian.xsrf.token=abc123");
    let _xclip = serve_clipboard(&display, &cookies);
    // SAFETY: the only test in this binary, so no other thread reads the
    // environment while it changes.
    unsafe {
        std::env::set_var("DISPLAY", &display);
        std::env::remove_var("WAYLAND_DISPLAY");
    }

    let answer = read_clipboard_text();
    match &answer {
        ClipboardText::Text(t) => assert_eq!(t.as_str(), cookies),
        ClipboardText::Unavailable(why) => panic!("clipboard unavailable: {why}"),
    }

    let mut app = App::new(
        SessionView::new(&SiteInfo {
            site: Some("https://example.atlassian.net/wiki".into()),
            deployment: Some(Deployment::Cloud),
            login_page: None,
            env_file: ".env".into(),
            data_dir: "/tmp/confluence-tui-test".into(),
            browser: None,
        }),
        time::macros::datetime!(2026-11-21 12:00 UTC),
        time::Duration::days(14),
    );
    app.update(Msg::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('p'),
        crossterm::event::KeyModifiers::NONE,
    )));
    app.update(Msg::Clipboard(answer));
    match &app.dialog {
        Some(Dialog::Paste(p)) => assert!(p.is_valid()),
        other => panic!("paste dialog not open: {other:?}"),
    }
    let mut t = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
    t.draw(|f| view::draw(&app, f.area(), f.buffer_mut(), &Theme::plain()))
        .expect("draw");
    let buf = t.backend().buffer();
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("Read from the clipboard"), "{text}");
    assert!(text.contains("cloud.session.token"), "{text}");
    assert!(text.contains("atlassian.xsrf.token"), "{text}");
    assert!(!text.contains(SESSION), "{text}");

    // Without a display the same function says why, and the dialog says so.
    unsafe { std::env::set_var("DISPLAY", ":99999") };
    match read_clipboard_text() {
        ClipboardText::Unavailable(why) => assert!(!why.is_empty()),
        ClipboardText::Text(_) => panic!("a clipboard answered on a display that does not exist"),
    }
}
