//! Where a Chromium-family browser keeps the secret behind its cookie key:
//! the Secret Service on Linux (`v11`), the Keychain on macOS. Asked only
//! when a value needs it.

#[cfg(any(target_os = "linux", target_os = "macos"))]
use zeroize::Zeroizing;

use super::BrowserKind;
use super::crypto::CookieKey;

/// The Secret Service's or Keychain's secret could not be had.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyUnavailable(pub String);

/// The `application` attribute Chromium's Linux key item carries.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn linux_application(kind: BrowserKind) -> &'static str {
    match kind {
        BrowserKind::Chrome => "chrome",
        BrowserKind::Brave => "brave",
        BrowserKind::Edge => "microsoft-edge",
        _ => "chromium",
    }
}

/// The Keychain service name of the browser's key on macOS.
pub(crate) fn keychain_service(kind: BrowserKind) -> &'static str {
    match kind {
        BrowserKind::Chrome => "Chrome Safe Storage",
        BrowserKind::Brave => "Brave Safe Storage",
        BrowserKind::Edge => "Microsoft Edge Safe Storage",
        _ => "Chromium Safe Storage",
    }
}

/// The key for `v11` values on Linux, from the Secret Service.
#[cfg(target_os = "linux")]
pub(crate) fn linux_v11_key(kind: BrowserKind) -> Result<CookieKey, KeyUnavailable> {
    let app = linux_application(kind);
    // Its own thread and runtime: callers may be inside another runtime.
    let secret = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| KeyUnavailable(format!("cannot start a runtime: {e}")))?;
        rt.block_on(secret_service_lookup(app))
    })
    .join()
    .map_err(|_| KeyUnavailable("the Secret Service lookup failed".into()))??;
    Ok(CookieKey::linux_from_secret(&secret))
}

#[cfg(target_os = "linux")]
async fn secret_service_lookup(app: &str) -> Result<Zeroizing<Vec<u8>>, KeyUnavailable> {
    use secret_service::{EncryptionType, SecretService};
    use std::collections::HashMap;
    let unavailable = |what: &str, e: secret_service::Error| {
        KeyUnavailable(format!(
            "cannot {what} the Secret Service ({e}); the browser keeps its cookie key there \
             (v11 values). Unlock the keyring, or paste the Cookie header instead \
             (`confluence-tui cookies import -`)"
        ))
    };
    let ss = SecretService::connect(EncryptionType::Dh)
        .await
        .map_err(|e| unavailable("reach", e))?;
    let found = ss
        .search_items(HashMap::from([("application", app)]))
        .await
        .map_err(|e| unavailable("search", e))?;
    let item = match (found.unlocked.first(), found.locked.first()) {
        (Some(item), _) => item,
        (None, Some(item)) => {
            item.unlock().await.map_err(|e| unavailable("unlock", e))?;
            item
        }
        (None, None) => {
            return Err(KeyUnavailable(format!(
                "the Secret Service holds no \"Safe Storage\" item for application \"{app}\"; \
                 the browser's v11 cookies cannot be read. Paste the Cookie header instead \
                 (`confluence-tui cookies import -`)"
            )));
        }
    };
    let secret = item
        .get_secret()
        .await
        .map_err(|e| unavailable("read from", e))?;
    Ok(Zeroizing::new(secret))
}

/// Off Linux there is no Secret Service.
#[cfg(not(target_os = "linux"))]
pub(crate) fn linux_v11_key(_kind: BrowserKind) -> Result<CookieKey, KeyUnavailable> {
    Err(KeyUnavailable(
        "v11 values are a Linux format; this profile comes from another system".into(),
    ))
}

/// The key for `v10` values on macOS, from the login Keychain.
#[cfg(target_os = "macos")]
pub(crate) fn macos_key(kind: BrowserKind) -> Result<CookieKey, KeyUnavailable> {
    let service = keychain_service(kind);
    let out = std::process::Command::new("/usr/bin/security")
        .args(["find-generic-password", "-w", "-s", service])
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| KeyUnavailable(format!("cannot run the `security` tool: {e}")))?;
    let secret = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(KeyUnavailable(format!(
            "the Keychain did not give the \"{service}\" item (denied or missing); allow \
             access when asked, or paste the Cookie header instead"
        )));
    }
    let trimmed = secret.strip_suffix(b"\n").unwrap_or(&secret);
    Ok(CookieKey::macos_from_secret(trimmed))
}

/// Off macOS there is no Keychain.
#[cfg(not(target_os = "macos"))]
pub(crate) fn macos_key(kind: BrowserKind) -> Result<CookieKey, KeyUnavailable> {
    Err(KeyUnavailable(format!(
        "the profile's values need the macOS Keychain item \"{}\"; read it on the Mac it \
         belongs to",
        keychain_service(kind)
    )))
}
