//! Standard Webhooks secrets (`whsec_<base64 key>`) and signatures
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
const KEY_BYTES: usize = 32;

/// A new random secret.
pub fn generate() -> String {
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The shortest secret a user may choose.
pub const MIN_CHOSEN: usize = 16;
/// The longest secret a user may choose.
pub const MAX_CHOSEN: usize = 256;

/// The key bytes of a secret: `whsec_<base64>` is the base64-decoded key (Standard
/// Webhooks); any other secret (one a user chose, shared with an existing receiver) is its
/// own bytes.
fn key_bytes(secret: &str) -> Option<Vec<u8>> {
    match secret.strip_prefix(PREFIX) {
        Some(encoded) => STANDARD.decode(encoded).ok(),
        None => Some(secret.as_bytes().to_vec()),
    }
}

/// Why a secret a user chose cannot sign: at least [`MIN_CHOSEN`] characters, at most
/// [`MAX_CHOSEN`], printable ASCII without spaces; `whsec_` must be followed by base64.
pub fn check_chosen(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_CHOSEN {
        return Err(format!(
            "Ensure this field has at least {MIN_CHOSEN} characters."
        ));
    }
    if secret.len() > MAX_CHOSEN {
        return Err(format!(
            "Ensure this field has no more than {MAX_CHOSEN} characters."
        ));
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Use printable ASCII characters without spaces.".into());
    }
    if let Some(encoded) = secret.strip_prefix(PREFIX) {
        match STANDARD.decode(encoded) {
            Ok(key) if !key.is_empty() => {}
            _ => {
                return Err(
                    "A secret starting with whsec_ must continue with base64 (Standard Webhooks); \
                     leave out the prefix for a plain secret."
                        .into(),
                );
            }
        }
    }
    Ok(())
}

/// One `v1,<signature>` entry for the message; `None` if the secret is malformed.
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// GitHub/Labelbox style `sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret
/// string as the receiver was given it (`whsec_...`).
pub fn hub_signature(secret: &str, body: &[u8]) -> Option<String> {
    hex_hmac::<Hmac<Sha256>>(secret, body).map(|hex| format!("sha256={hex}"))
}

/// Labelbox's `X-Hub-Signature`: `sha1=<hex HMAC-SHA1 of the body>`, keyed with the
/// secret string (what Labelbox's guide and SDK check).
pub fn hub_signature_sha1(secret: &str, body: &[u8]) -> Option<String> {
    hex_hmac::<Hmac<sha1::Sha1>>(secret, body).map(|hex| format!("sha1={hex}"))
}

fn hex_hmac<M: Mac + hmac::digest::KeyInit>(secret: &str, body: &[u8]) -> Option<String> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a `webhook-signature` header value (space-separated entries) against a secret.
pub fn verify(secret: &str, message_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(expected) = sign(secret, message_id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|entry| {
        use subtle_compare::eq;
        eq(entry.as_bytes(), expected.as_bytes())
    })
}

mod subtle_compare {
    /// Constant-time comparison of two byte strings.
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // Test vector from the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &format!("v1,bogus {signature}")
        ));
    }

    #[test]
    fn hub_signature_is_hex_hmac_of_the_body() {
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog"), a well-known vector.
        let signature =
            hub_signature("key", b"The quick brown fox jumps over the lazy dog").unwrap();
        assert_eq!(
            signature,
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn chosen_secrets_sign_with_their_own_bytes() {
        let raw = "a-shared-secret-of-labelbox";
        assert!(check_chosen(raw).is_ok());
        let mut mac = Hmac::<Sha256>::new_from_slice(raw.as_bytes()).unwrap();
        mac.update(b"msg_1.1.{}");
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(sign(raw, "msg_1", 1, b"{}").unwrap(), expected);
        assert!(check_chosen("short").is_err());
        assert!(check_chosen("whsec_not base64 at all!").is_err());
        assert!(check_chosen("with spaces inside it").is_err());
        assert!(check_chosen("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }

    #[test]
    fn labelbox_signature_is_hex_hmac_sha1_of_the_body() {
        // HMAC-SHA1(key="key", "The quick brown fox jumps over the lazy dog"), a well-known vector.
        assert_eq!(
            hub_signature_sha1("key", b"The quick brown fox jumps over the lazy dog").unwrap(),
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
    }

    #[test]
    fn generated_secrets_sign() {
        let secret = generate();
        assert!(secret.starts_with("whsec_"));
        assert!(sign(&secret, "msg_1", 1, b"{}").is_some());
    }
}
