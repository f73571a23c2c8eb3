//! The built-in fake site on its own runtime, for tests that need a live
//! session to import or a CAPTCHA to store.

use assert_cmd::Command;
use confluence_tui::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};

use super::Sandbox;

/// A fake site, alive while the test runs the binary.
pub struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    pub server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    pub fn start(flavor: DemoFlavor) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor,
            data: DemoData {
                spaces: 3,
                pages_per_space: 2,
            },
            faults: DemoFaults::default(),
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }
    pub fn cloud() -> Site {
        Site::start(DemoFlavor::Cloud)
    }
    pub fn server_dc() -> Site {
        Site::start(DemoFlavor::Server)
    }
    pub fn faults(&self, f: impl FnOnce(&mut DemoFaults)) {
        let mut faults = self.server.faults();
        f(&mut faults);
        self.server.set_faults(faults);
    }
    /// Requests the site has answered so far.
    pub fn count(&self) -> u64 {
        self.server.request_count()
    }
    /// The binary configured for this site, with no credential in its
    /// environment (whatever the vault holds is used).
    pub fn cmd(&self, sb: &Sandbox) -> Command {
        let deployment = match self.server.flavor() {
            DemoFlavor::Cloud => "cloud",
            DemoFlavor::Server => "server",
        };
        let mut c = sb.cmd();
        c.env("CONFLUENCE_BASE_URL", self.server.base_url().as_str())
            .env("CONFLUENCE_DEPLOYMENT", deployment);
        c
    }
    /// Imports the site's live session cookie (without verifying it).
    pub fn import_live(&self, sb: &Sandbox) {
        let out = self
            .cmd(sb)
            .args(["cookies", "import", "--no-verify", "-"])
            .write_stdin(self.server.session_cookie_header())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", super::stderr(&out));
    }
    /// Stores the CAPTCHA state: a live session, then a check the site
    /// answers with a CAPTCHA (exit 4). The CAPTCHA stays on afterwards.
    pub fn store_a_captcha(&self, sb: &Sandbox) -> String {
        use confluence_tui::demo::CaptchaForm;
        self.import_live(sb);
        self.faults(|f| f.captcha = Some(CaptchaForm::Header403));
        let out = self.cmd(sb).arg("check").output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", super::stderr(&out));
        format!("http://{}/login.action", self.server.addr())
    }
    /// Marks the stored cookies expired the way a dead session does: a
    /// session cookie the site never issued, refused by a check (exit 3).
    pub fn store_expired_cookies(&self, sb: &Sandbox) {
        let name = match self.server.flavor() {
            DemoFlavor::Cloud => confluence_tui::demo::CLOUD_SESSION_COOKIE,
            DemoFlavor::Server => confluence_tui::demo::SERVER_SESSION_COOKIE,
        };
        let out = self
            .cmd(sb)
            .args(["cookies", "import", "--no-verify", "-"])
            .write_stdin(format!("{name}=never-issued-session-value; other=1"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", super::stderr(&out));
        let out = self.cmd(sb).arg("check").output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", super::stderr(&out));
    }
}
