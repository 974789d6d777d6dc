//! Passwords: hashed with Argon2id (memory-hard, so a stolen database is slow to guess
//! from), stored as PHC strings that carry their own salt and parameters.
//!
//! Hashing takes tens of milliseconds of CPU on purpose: callers run it on a blocking
//! thread ([`hash`], [`verify`] are async for that reason), never on the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::shared::Error;

/// Shortest password accepted (Label Studio's Django default validators ask for 8).
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted: enough for any passphrase or manager, and a bound on the
/// work one request can ask of the hasher.
pub const MAX_LENGTH: usize = 256;

/// A password fit to be set, or 400 naming `field`.
pub fn check(field: &str, password: &str) -> Result<(), Error> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Error::invalid(
            field,
            format!(
                "This password is too short. It must contain at least {MIN_LENGTH} characters."
            ),
        ));
    }
    if length > MAX_LENGTH {
        return Err(Error::invalid(
            field,
            format!("This password is too long. It may contain at most {MAX_LENGTH} characters."),
        ));
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(field, "This password is entirely numeric."));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh random salt.
pub async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored `hash`. With no hash (an unknown email, or a user
/// without a password) a dummy hash is checked all the same, so the answer takes as long
/// either way and its timing does not tell whether the email exists.
pub async fn verify(hash: Option<String>, password: &str) -> bool {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY.clone());
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password no one knows, made once, for [`verify`] to spend the same
/// time on when there is no real hash.
static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_now(&crate::auth::random_token(32)).expect("hashing a random password")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct"), "the password is not stored");
        assert!(verify(Some(stored.clone()), "correct horse battery").await);
        assert!(!verify(Some(stored.clone()), "correct horse batterY").await);
        assert!(!verify(None, "correct horse battery").await);
        assert!(!verify(Some("not a hash".into()), "x").await);
        let again = hash("correct horse battery").await.unwrap();
        assert_ne!(stored, again, "each hash has its own salt");
    }

    #[test]
    fn weak_passwords_are_refused_naming_the_field() {
        for bad in ["short", "12345678901", &"x".repeat(MAX_LENGTH + 1)] {
            let Err(Error::Invalid { field, .. }) = check("password", bad) else {
                panic!("{bad} accepted");
            };
            assert_eq!(field, "password");
        }
        assert!(check("password", "pass12345").is_ok());
    }
}
