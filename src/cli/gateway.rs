//! `gateway set | status | clear | cert`: what a gateway in front of the
//! site wants, kept per site in the vault and sent with every request (by
//! the proxy and `exec --proxy` too, so no client has to learn it). Values
//! are read from a hidden prompt or standard input, never from arguments,
//! and never printed.

use std::io::{IsTerminal, Read, Write as _};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::CliError;
use super::output::Output;
use crate::config::Settings;
use crate::confluence::client::{ClientIdentity, IdentityError};
use crate::credentials::{Credentials, rfc3339};
use crate::exit::Exit;
use crate::secret::SecretString;
use crate::text::for_terminal;
use crate::vault::GatewaySecret;

/// Longest secret accepted from standard input.
const MAX_SECRET_BYTES: u64 = 16 * 1024;

/// Headers a gateway credential may not replace: they carry the site's own
/// credentials, or frame the request.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "proxy-authorization",
    "x-atlassian-token",
];

/// `gateway …`
#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Store a credential a gateway in front of the site checks on every request
    #[command(subcommand)]
    Set(GatewaySet),
    /// What is stored for the site's gateway: names, never values
    Status {
        /// One JSON object (never values)
        #[arg(long)]
        json: bool,
    },
    /// Remove a stored gateway credential (cloudflare, a header's name, or cert), or all of them
    Clear {
        /// What to remove: cloudflare, a header's name, or cert (the client certificate and its password); all when not given
        name: Option<String>,
    },
    /// Client certificates for gateways that want one (mTLS)
    #[command(subcommand)]
    Cert(GatewayCert),
}

/// `gateway set …`
#[derive(Debug, Subcommand)]
pub enum GatewaySet {
    /// A Cloudflare Access service token: sends CF-Access-Client-Id and CF-Access-Client-Secret (the secret read hidden from the terminal, or from standard input)
    Cloudflare {
        /// The service token's client id (CF-Access-Client-Id)
        #[arg(long, value_name = "ID")]
        client_id: String,
    },
    /// Any other header a gateway or load balancer checks (its value read hidden from the terminal, or from standard input)
    Header {
        /// The header's name, e.g. X-Edge-Key
        name: String,
    },
}

/// `gateway cert …`
#[derive(Debug, Subcommand)]
pub enum GatewayCert {
    /// Keep a client certificate and its key in the vault (asks for the password of a PKCS#12 file or an encrypted key), so the files can be deleted
    Import {
        /// A PEM file with the certificate chain (and its key), or a PKCS#12 .p12/.pfx
        path: PathBuf,
        /// The PEM key, when the certificate file has none
        #[arg(long, value_name = "PATH")]
        key: Option<PathBuf>,
    },
    /// Keep the password of CONFLUENCE_CLIENT_CERT in the vault (read hidden from the terminal, or from standard input)
    Password,
}

pub(super) fn run(
    out: &mut Output,
    cmd: GatewayCommand,
    settings: &Settings,
) -> Result<Exit, CliError> {
    let creds = Credentials::open(settings);
    let site = creds
        .site()
        .map(ToString::to_string)
        .ok_or_else(|| CliError::Usage("no site is configured: set CONFLUENCE_BASE_URL (or pass --base-url); gateway credentials are kept per site".into()))?;
    let now = OffsetDateTime::now_utc();
    match cmd {
        GatewayCommand::Set(GatewaySet::Cloudflare { client_id }) => {
            let client_id = client_id.trim().to_string();
            if client_id.is_empty() || client_id.chars().any(|c| c.is_control() || c == ' ') {
                return Err(CliError::Usage(
                    "--client-id must be the service token's client id, on one line".into(),
                ));
            }
            let secret = read_secret("Cloudflare Access client secret (input hidden): ")?;
            creds.store_gateway(GatewaySecret::Cloudflare {
                client_id,
                client_secret: secret,
                saved_at: now,
            })?;
            out.line(format_args!(
                "Stored a Cloudflare Access service token for {}: every request to the site now carries CF-Access-Client-Id and CF-Access-Client-Secret.",
                for_terminal(&site)
            ))?;
        }
        GatewayCommand::Set(GatewaySet::Header { name }) => {
            let name = name.trim().to_string();
            check_header_name(&name)?;
            let value = read_secret(&format!("Value of {name} (input hidden): "))?;
            creds.store_gateway(GatewaySecret::Header {
                name: name.clone(),
                value,
                saved_at: now,
            })?;
            out.line(format_args!(
                "Stored the gateway header {name} for {}: every request to the site now carries it.",
                for_terminal(&site)
            ))?;
        }
        GatewayCommand::Status { json } => {
            let status = creds.gateway_status(&settings.gateway_cookies)?;
            let file = settings.client_cert.as_ref().map(|path| {
                match crate::session::identity::client_identity(settings, &Default::default()) {
                    Some(Ok(id)) => json!({"path": path, "certificate": id.describe()}),
                    Some(Err(e)) => json!({"path": path, "problem": e.to_string()}),
                    None => json!({"path": path}),
                }
            });
            if json {
                out.line(json!({
                    "site": status.site,
                    "entries": status.entries,
                    "client_certificate_file": file,
                    "client_certificate_stored": status.client_certificate,
                    "client_cert_password_stored": status.client_cert_password_stored,
                    "gateway_cookies": status.gateway_cookies,
                }))?;
            } else {
                out.line(format_args!("Site:      {}", for_terminal(&site)))?;
                if status.entries.is_empty() {
                    out.line("Headers:   none stored")?;
                }
                for e in &status.entries {
                    out.line(format_args!(
                        "Headers:   {} ({}), stored {}",
                        for_terminal(&e.name),
                        for_terminal(&e.headers.join(", ")),
                        rfc3339(e.saved_at)
                    ))?;
                }
                match (&settings.client_cert, &status.client_certificate) {
                    (Some(path), _) => {
                        let said = file
                            .as_ref()
                            .and_then(|f| f.get("certificate").or(f.get("problem")))
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string();
                        out.line(format_args!(
                            "Client certificate: {} (CONFLUENCE_CLIENT_CERT): {}",
                            path.display(),
                            for_terminal(&said)
                        ))?;
                    }
                    (None, Some(stored)) => out.line(format_args!(
                        "Client certificate: kept in the vault: {}",
                        for_terminal(stored)
                    ))?,
                    (None, None) => out.line("Client certificate: none")?,
                }
                if status.client_cert_password_stored {
                    out.line("           its password is kept in the vault")?;
                }
                let cookies = if status.gateway_cookies.is_empty() {
                    "none stored".to_string()
                } else {
                    status.gateway_cookies.join(", ")
                };
                out.line(format_args!("Gateway cookies: {}", for_terminal(&cookies)))?;
            }
        }
        GatewayCommand::Clear { name } => {
            let removed = creds.clear_gateway(name.as_deref())?;
            if removed.is_empty() {
                out.line(format_args!(
                    "Nothing to remove{} for {}.",
                    name.as_deref()
                        .map(|n| format!(" named {}", for_terminal(n)))
                        .unwrap_or_default(),
                    for_terminal(&site)
                ))?;
            } else {
                out.line(format_args!(
                    "Removed {} for {}.",
                    for_terminal(&removed.join(", ")),
                    for_terminal(&site)
                ))?;
            }
        }
        GatewayCommand::Cert(GatewayCert::Import { path, key }) => {
            let identity = open_identity(
                &path,
                key.as_deref(),
                settings.client_cert_password.as_ref(),
            )?;
            creds.store_client_identity(&identity)?;
            out.line(format_args!(
                "Kept the client certificate {} in the vault for {}; {} may be deleted now.",
                for_terminal(&identity.describe()),
                for_terminal(&site),
                path.display()
            ))?;
            if settings.client_cert.is_some() {
                out.line(
                    "note: CONFLUENCE_CLIENT_CERT is set and is used before the vault's: unset it to use this one",
                )?;
            }
        }
        GatewayCommand::Cert(GatewayCert::Password) => {
            let Some(cert) = settings.client_cert.clone() else {
                return Err(CliError::Usage(
                    "CONFLUENCE_CLIENT_CERT is not set: the password belongs to the certificate it names (or keep the certificate itself with `gateway cert import PATH`)".into(),
                ));
            };
            let password =
                read_secret(&format!("Password of {} (input hidden): ", cert.display()))?;
            let identity =
                ClientIdentity::load(&cert, settings.client_key.as_deref(), Some(&password))
                    .map_err(identity_error)?;
            creds.store_client_cert_password(password)?;
            out.line(format_args!(
                "The password opens {}; kept in the vault for {}.",
                for_terminal(&identity.describe()),
                for_terminal(&site)
            ))?;
        }
    }
    Ok(Exit::Ok)
}

/// Opens a client certificate, asking for its password when it has one.
fn open_identity(
    path: &Path,
    key: Option<&Path>,
    password: Option<&SecretString>,
) -> Result<ClientIdentity, CliError> {
    match ClientIdentity::load(path, key, password) {
        Err(IdentityError::PasswordNeeded { .. }) if password.is_none() => {
            let pw = read_secret(&format!("Password of {} (input hidden): ", path.display()))?;
            ClientIdentity::load(path, key, Some(&pw)).map_err(identity_error)
        }
        other => other.map_err(identity_error),
    }
}

fn identity_error(e: IdentityError) -> CliError {
    CliError::Usage(e.to_string())
}

/// Before a command that talks to the site: when `CONFLUENCE_CLIENT_CERT`
/// needs a password that is neither set nor kept, ask for it once at the
/// terminal and keep it in the vault. Elsewhere (no terminal) the command
/// itself says what is missing.
pub(super) fn ask_certificate_password(settings: &Settings) -> Result<(), CliError> {
    let Some(cert) = &settings.client_cert else {
        return Ok(());
    };
    if settings.client_cert_password.is_some() || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let creds = Credentials::open(settings);
    let own = match (creds.site(), creds.paths().vault_file.exists()) {
        (Some(site), true) => creds.load()?.site(site).cloned().unwrap_or_default(),
        _ => Default::default(),
    };
    match crate::session::identity::client_identity(settings, &own) {
        Some(Err(IdentityError::PasswordNeeded { .. })) => {}
        _ => return Ok(()),
    }
    for _ in 0..3 {
        let password = read_secret(&format!("Password of {} (input hidden): ", cert.display()))?;
        match ClientIdentity::load(cert, settings.client_key.as_deref(), Some(&password)) {
            Ok(_) => {
                creds.store_client_cert_password(password)?;
                let _ = writeln!(
                    std::io::stderr(),
                    "The password opens the client certificate; kept in the vault."
                );
                return Ok(());
            }
            Err(IdentityError::WrongPassword { .. }) => {
                let _ = writeln!(std::io::stderr(), "That password does not open it.");
            }
            Err(e) => return Err(identity_error(e)),
        }
    }
    Err(CliError::Usage(format!(
        "the password of {} was not given",
        cert.display()
    )))
}

fn check_header_name(name: &str) -> Result<(), CliError> {
    let valid =
        !name.is_empty() && reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
    if !valid {
        return Err(CliError::Usage(format!(
            "{} is not a header name (letters, digits and - only)",
            for_terminal(name)
        )));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(CliError::Usage(format!(
            "{name} is not a gateway's header: it carries the site's own credentials or frames the request"
        )));
    }
    Ok(())
}

/// A secret read hidden from the terminal (with `prompt`), or from
/// standard input when it is piped; trimmed, on one line, at most 16 KiB.
pub(super) fn read_secret(prompt: &str) -> Result<SecretString, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password(prompt)
                .map_err(|e| CliError::Usage(format!("cannot read from the terminal: {e}")))?,
        )
    } else {
        let mut buf = Zeroizing::new(String::new());
        std::io::stdin()
            .take(MAX_SECRET_BYTES + 1)
            .read_to_string(&mut buf)
            .map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
        if buf.len() as u64 > MAX_SECRET_BYTES {
            return Err(CliError::Usage(
                "standard input is longer than 16 KiB; pipe only the secret".into(),
            ));
        }
        buf
    };
    let value = raw.trim();
    if value.is_empty() || value.chars().any(|c| c.is_control()) {
        return Err(CliError::Usage(
            "the value is empty or spans lines; give it on one line".into(),
        ));
    }
    Ok(SecretString::from(value))
}
