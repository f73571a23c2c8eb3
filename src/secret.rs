//! Secret values (cookie values, tokens, passphrases) that never print.
//!
//! We use `secrecy::SecretString` directly: its `Debug` prints a placeholder
//! and the value is reachable only through `expose_secret()`, which is easy to
//! grep for. This module adds masking for display and serde helpers for the
//! one place secrets are serialised: the encrypted vault document.

pub use secrecy::{ExposeSecret, SecretString};

/// Masks a secret for display: `abcd…wxyz (42 chars)`, or only the length
/// when the value is too short to show any of it safely.
pub(crate) fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n < 16 {
        return format!("•••• ({n} chars)");
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[n - 4..].iter().collect();
    format!("{head}…{tail} ({n} chars)")
}

/// Masks showing only the length; for places where even four characters are
/// too much (previews of values the user has not asked to reveal).
pub(crate) fn mask_len(value: &str) -> String {
    format!("•••• ({} chars)", value.chars().count())
}

/// Serde for `SecretString` fields of the vault document (inside the AEAD only).
pub(crate) mod serde_secret {
    use super::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.expose_secret())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        Ok(SecretString::from(s.as_str()))
    }
}

/// Serde for `Option<SecretString>` fields of the vault document.
pub(crate) mod serde_secret_opt {
    use super::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<SecretString>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(v.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretString>, D::Error> {
        let s: Option<zeroize::Zeroizing<String>> = Option::deserialize(d)?;
        Ok(s.map(|s| SecretString::from(s.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_shows_ends_and_length_only() {
        let m = mask("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH");
        assert_eq!(m, "abcd…EFGH (44 chars)");
        assert_eq!(mask("short"), "•••• (5 chars)");
    }

    #[test]
    fn debug_of_secret_hides_value() {
        let s = SecretString::from("SENTINEL-secret-value");
        assert!(!format!("{s:?}").contains("SENTINEL"));
    }
}
