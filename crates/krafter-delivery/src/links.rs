//! Signed share links: a JWT (HS256, `kid` in the header) naming a share record.
//!
//! The token carries only the share's id and an expiry; whether the link still works is decided
//! by the share record too (revocation), so a token is never the only authority. Keys rotate:
//! the newest key signs, every configured key verifies, and a token whose `kid` is no longer
//! configured is refused.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use krafter_domain::share::{LinkSigner, ShareId};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Shortest secret accepted: HS256 keys shorter than the hash are weaker than the hash.
pub const MIN_SECRET_BYTES: usize = 32;
/// The file under the data directory that keeps a generated key across restarts.
pub const GENERATED_KEY_FILE: &str = "link-signing-key";

/// One signing key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    secret: Vec<u8>,
}

impl SigningKey {
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {} bytes)", self.id, self.secret.len())
    }
}

/// Why the signing keys could not be read. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyConfigError {
    #[error("KRAFTER_SIGNING_KEYS entry {0} is not `key_id:secret`")]
    Malformed(usize),
    #[error(
        "KRAFTER_SIGNING_KEYS key {0:?}: the secret must be at least {MIN_SECRET_BYTES} bytes"
    )]
    TooShort(String),
    #[error("KRAFTER_SIGNING_KEYS names key {0:?} twice")]
    Duplicate(String),
    #[error("KRAFTER_SIGNING_KEYS has no key")]
    Empty,
    #[error("the link signing key file {path}: {error}")]
    File {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// The configured keys, newest first.
#[derive(Debug, Clone)]
pub struct SigningKeys(Vec<SigningKey>);

impl SigningKeys {
    /// Parses `KRAFTER_SIGNING_KEYS`: `key_id:secret` entries separated by commas, newest first.
    pub fn parse(raw: &str) -> Result<Self, KeyConfigError> {
        let mut keys: Vec<SigningKey> = Vec::new();
        for (n, entry) in raw.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((id, secret)) = entry.split_once(':') else {
                return Err(KeyConfigError::Malformed(n + 1));
            };
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_graphic()) {
                return Err(KeyConfigError::Malformed(n + 1));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(KeyConfigError::TooShort(id.to_owned()));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyConfigError::Duplicate(id.to_owned()));
            }
            keys.push(SigningKey {
                id: id.to_owned(),
                secret: secret.as_bytes().to_vec(),
            });
        }
        if keys.is_empty() {
            return Err(KeyConfigError::Empty);
        }
        Ok(Self(keys))
    }

    /// The key kept in `dir`, made (and written, readable by its owner only) if there is none.
    /// Answers whether it was made now.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, bool), KeyConfigError> {
        let path = dir.join(GENERATED_KEY_FILE);
        let file_error = |error| KeyConfigError::File {
            path: path.clone(),
            error,
        };
        match std::fs::read_to_string(&path) {
            Ok(stored) => return Ok((Self::parse(stored.trim())?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e)),
        }
        std::fs::create_dir_all(dir).map_err(file_error)?;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let mut id = [0u8; 4];
        rand::thread_rng().fill_bytes(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let line = format!("local-{id}:{secret}\n");
        // Written whole under a name of its own, then linked into place, which fails if another
        // process got there first: a crash never leaves half a key, and two first starts on one
        // data directory end up with the same key (the one linked first).
        let partial = dir.join(format!(
            "{GENERATED_KEY_FILE}.{}.partial",
            uuid::Uuid::new_v4()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(file_error)?;
        file.write_all(line.as_bytes()).map_err(file_error)?;
        file.sync_all().map_err(file_error)?;
        let linked = std::fs::hard_link(&partial, &path);
        let _ = std::fs::remove_file(&partial);
        match linked {
            Ok(()) => Ok((Self::parse(line.trim())?, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stored = std::fs::read_to_string(&path).map_err(file_error)?;
                Ok((Self::parse(stored.trim())?, false))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    pub fn ids(&self) -> Vec<&str> {
        self.0.iter().map(|k| k.id.as_str()).collect()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The share's id.
    sub: String,
    /// Seconds since the epoch.
    exp: i64,
}

/// [`LinkSigner`] over HS256 JWTs.
#[derive(Debug, Clone)]
pub struct JwtLinks {
    keys: SigningKeys,
}

impl JwtLinks {
    pub fn new(keys: SigningKeys) -> Self {
        Self { keys }
    }
}

impl LinkSigner for JwtLinks {
    fn sign(&self, share: ShareId, expires_at: DateTime<Utc>) -> String {
        let key = &self.keys.0[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.clone());
        let claims = Claims {
            sub: share.to_string(),
            exp: expires_at.timestamp(),
        };
        // Secrets are checked non-empty (32 bytes or more) when the keys are parsed.
        let secret = EncodingKey::from_secret(&key.secret).expect("a checked secret");
        jsonwebtoken::encode(&header, &claims, &secret)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<ShareId> {
        // The header is read before the signature is checked, only to pick the key; the
        // algorithm is pinned by the validation, whatever the header claims.
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let key = self.keys.0.iter().find(|k| k.id == kid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // Expiry is checked against the caller's clock below, not the system's.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let secret = DecodingKey::from_secret(&key.secret).ok()?;
        let data = jsonwebtoken::decode::<Claims>(token, &secret, &validation).ok()?;
        if data.claims.exp <= now.timestamp() {
            return None;
        }
        data.claims.sub.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use chrono::TimeDelta;

    use super::*;

    const OLD: &str = "old:0123456789abcdef0123456789abcdef-old";
    const NEW: &str = "new:0123456789abcdef0123456789abcdef-new";

    fn now() -> DateTime<Utc> {
        "2026-06-10T12:00:00Z".parse().unwrap()
    }

    fn links(keys: &str) -> JwtLinks {
        JwtLinks::new(SigningKeys::parse(keys).unwrap())
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let signer = links(NEW);
        let share = ShareId::generate();
        let token = signer.sign(share, now() + TimeDelta::days(1));
        assert_eq!(signer.verify(&token, now()), Some(share));
        assert_eq!(
            signer.verify(&token, now() + TimeDelta::hours(23)),
            Some(share)
        );
        assert_eq!(signer.verify(&token, now() + TimeDelta::days(1)), None);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.as_deref(), Some("new"));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let signer = links(NEW);
        let token = signer.sign(ShareId::generate(), now() + TimeDelta::days(1));
        let parts: Vec<&str> = token.split('.').collect();
        let other = format!(
            "{{\"sub\":\"{}\",\"exp\":{}}}",
            ShareId::generate(),
            (now() + TimeDelta::days(1)).timestamp()
        );
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(other),
            parts[2]
        );
        assert_eq!(signer.verify(&swapped, now()), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            signer.verify(&String::from_utf8(flipped).unwrap(), now()),
            None
        );
        for junk in ["", "abc", "a.b.c", "..", &format!("{token}.x")] {
            assert_eq!(signer.verify(junk, now()), None, "{junk:?}");
        }
    }

    #[test]
    fn keys_rotate_and_rotated_out_keys_no_longer_verify() {
        let share = ShareId::generate();
        let old_token = links(OLD).sign(share, now() + TimeDelta::days(1));
        let rotating = links(&format!("{NEW},{OLD}"));
        assert_eq!(rotating.verify(&old_token, now()), Some(share));
        let new_token = rotating.sign(share, now() + TimeDelta::days(1));
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some("new")
        );
        assert_eq!(links(NEW).verify(&old_token, now()), None);
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let share = ShareId::generate();
        let claims = Claims {
            sub: share.to_string(),
            exp: (now() + TimeDelta::days(1)).timestamp(),
        };
        let secret = &NEW.as_bytes()[4..];
        let mut hs512 = Header::new(Algorithm::HS512);
        hs512.kid = Some("new".into());
        let token =
            jsonwebtoken::encode(&hs512, &claims, &EncodingKey::from_secret(secret).unwrap())
                .unwrap();
        assert_eq!(links(NEW).verify(&token, now()), None);

        let unsigned_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"new"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims).unwrap());
        assert_eq!(
            links(NEW).verify(&format!("{unsigned_header}.{body}."), now()),
            None
        );

        let no_kid = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap();
        assert_eq!(links(NEW).verify(&no_kid, now()), None);
    }

    #[test]
    fn key_configuration_is_checked_and_secrets_stay_hidden() {
        assert!(
            matches!(SigningKeys::parse("k:short"), Err(KeyConfigError::TooShort(id)) if id == "k")
        );
        assert!(matches!(
            SigningKeys::parse("nocolon"),
            Err(KeyConfigError::Malformed(1))
        ));
        assert!(matches!(
            SigningKeys::parse(" , "),
            Err(KeyConfigError::Empty)
        ));
        assert!(matches!(
            SigningKeys::parse(&format!("{NEW},{NEW}")),
            Err(KeyConfigError::Duplicate(_))
        ));
        let keys = SigningKeys::parse(&format!("{NEW}, {OLD}")).unwrap();
        assert_eq!(keys.ids(), ["new", "old"]);
        let shown = format!("{keys:?} {:?}", JwtLinks::new(keys.clone()));
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        let err = SigningKeys::parse("k:0123456789").unwrap_err().to_string();
        assert!(!err.contains("0123456789"), "{err}");
    }

    #[test]
    fn a_generated_key_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("krafter-links-{}", uuid::Uuid::new_v4()));
        let (first, made) = SigningKeys::load_or_generate(&dir).unwrap();
        assert!(made);
        let (second, made_again) = SigningKeys::load_or_generate(&dir).unwrap();
        assert!(!made_again);
        let share = ShareId::generate();
        let token = JwtLinks::new(first).sign(share, now() + TimeDelta::days(1));
        assert_eq!(JwtLinks::new(second).verify(&token, now()), Some(share));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(GENERATED_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
