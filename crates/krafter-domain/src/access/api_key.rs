use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{ApiKeyId, OrgId};
use crate::storage::StorageError;
use crate::validation::InvalidParams;

const SECRET_PREFIX: &str = "kr_live_";
const RANDOM_LEN: usize = 40;
const MIN_RANDOM_LEN: usize = 32;
/// Longer bearer strings are refused before hashing so that a caller cannot make us hash megabytes.
const MAX_RANDOM_LEN: usize = 128;
/// Random characters kept in the display prefix: enough to tell keys apart and look one up.
const PREFIX_RANDOM_LEN: usize = 12;

/// What a key may do. Neither scope implies the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    AuditRead,
    AuditWrite,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::AuditRead, Scope::AuditWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AuditRead => "audit:read",
            Scope::AuditWrite => "audit:write",
        }
    }

    /// The bit this scope occupies in a stored scope set; stable, never renumbered.
    const fn bit(self) -> i16 {
        match self {
            Scope::AuditRead => 1,
            Scope::AuditWrite => 2,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(i16);

impl Scopes {
    /// Parses a comma-separated list such as `audit:read,audit:write`.
    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        let mut bits = 0;
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == part)
                .ok_or_else(|| {
                    InvalidParams::field(
                        "scopes",
                        format!("unknown scope {part:?}; expected audit:read or audit:write"),
                    )
                })?;
            bits |= scope.bit();
        }
        if bits == 0 {
            return Err(InvalidParams::field(
                "scopes",
                "at least one scope is required",
            ));
        }
        Ok(Self(bits))
    }

    pub fn of(scopes: &[Scope]) -> Self {
        Self(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The stored representation: a bit set with audit:read = 1 and audit:write = 2.
    pub fn bits(self) -> i16 {
        self.0
    }

    /// Reads a stored bit set; `None` for a value that no version of us wrote.
    pub fn from_bits(bits: i16) -> Option<Self> {
        (1..=3).contains(&bits).then_some(Self(bits))
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// The secret a client presents: `kr_live_` and 32 to 128 base62 characters.
/// Its `Debug` hides the secret so that it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Self {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(RANDOM_LEN)
            .map(char::from)
            .collect();
        Self(format!("{SECRET_PREFIX}{random}"))
    }

    /// `None` when the string cannot be one of our keys.
    pub fn parse(raw: &str) -> Option<Self> {
        let random = raw.strip_prefix(SECRET_PREFIX)?;
        let well_formed = (MIN_RANDOM_LEN..=MAX_RANDOM_LEN).contains(&random.len())
            && random.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn prefix(&self) -> KeyPrefix {
        KeyPrefix(self.0[..SECRET_PREFIX.len() + PREFIX_RANDOM_LEN].to_owned())
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The secret itself, to show once to whoever created it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.prefix().as_str())
    }
}

/// The public start of a key (`kr_live_` and 12 characters): shown in listings, used to find and revoke it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        let random = raw.strip_prefix(SECRET_PREFIX).unwrap_or("");
        if random.len() == PREFIX_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidParams::field(
                "prefix",
                format!(
                    "must be {SECRET_PREFIX} followed by {PREFIX_RANDOM_LEN} letters or digits"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of the whole secret: all that is stored of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares without revealing through timing how many leading bytes matched.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: KeyPrefix,
    pub hash: KeyHash,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key about to be stored, with the secret that must be shown once and then forgotten.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: ApiKeySecret,
}

impl NewApiKey {
    pub fn generate(org_id: OrgId, name: &str, scopes: Scopes, now: DateTime<Utc>) -> Self {
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id,
            name: name.to_owned(),
            prefix: secret.prefix(),
            hash: secret.hash(),
            scopes,
            created_at: now,
            revoked_at: None,
            last_used_at: None,
        };
        Self { key, secret }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyRepoError {
    #[error("the organisation does not exist")]
    UnknownOrganisation,
    #[error("another key already has this prefix")]
    PrefixTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where API keys live. Only the hash and the display prefix of a secret are ever handed to it.
///
/// Contract: `insert` fails with `UnknownOrganisation` for an organisation that does not exist and
/// with `PrefixTaken` when the prefix is in use (the caller generates another key);
/// `find_by_prefix` answers `Ok(None)` when no key has that prefix, revoked keys included;
/// `revoke` answers `Ok(false)` when the organisation has no unrevoked key with that prefix;
/// `touch` records a use and never fails for a missing key; `list` answers the organisation's keys,
/// revoked ones included, oldest first (none for an organisation that does not exist).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn insert(&self, key: &ApiKey) -> Result<(), ApiKeyRepoError>;
    async fn find_by_prefix(&self, prefix: &KeyPrefix) -> Result<Option<ApiKey>, ApiKeyRepoError>;
    async fn revoke(
        &self,
        org: OrgId,
        prefix: &KeyPrefix,
        at: DateTime<Utc>,
    ) -> Result<bool, ApiKeyRepoError>;
    async fn touch(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), ApiKeyRepoError>;
    async fn list(&self, org: OrgId) -> Result<Vec<ApiKey>, ApiKeyRepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_and_keep_their_prefix() {
        let secret = ApiKeySecret::generate();
        assert_eq!(secret.expose().len(), 8 + 40);
        let parsed = ApiKeySecret::parse(secret.expose()).unwrap();
        assert_eq!(parsed.prefix(), secret.prefix());
        assert!(parsed.hash().matches(&secret.hash()));
        assert_eq!(secret.prefix().as_str().len(), 20);
        assert!(KeyPrefix::parse(secret.prefix().as_str()).is_ok());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for raw in [
            "",
            "kr_live_",
            "kr_live_short",
            "kr_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "kr_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
            &format!("kr_live_{}", "a".repeat(129)),
        ] {
            assert!(ApiKeySecret::parse(raw).is_none(), "{raw}");
        }
        assert!(ApiKeySecret::parse(&format!("kr_live_{}", "a".repeat(32))).is_some());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = ApiKeySecret::generate();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()));
    }

    #[test]
    fn scopes_parse_exactly() {
        let both = Scopes::parse("audit:read,audit:write").unwrap();
        assert!(both.contains(Scope::AuditRead) && both.contains(Scope::AuditWrite));
        let read = Scopes::parse("audit:read").unwrap();
        assert!(!read.contains(Scope::AuditWrite));
        assert_eq!(read.to_string(), "audit:read");
        assert!(Scopes::parse("audit:admin").is_err());
        assert!(Scopes::parse("").is_err());
        assert_eq!(Scopes::from_bits(both.bits()), Some(both));
        assert_eq!(Scopes::from_bits(0), None);
    }
}
