//! API keys and the decision of who may do what to which project.

mod api_key;
mod authorizer;
mod cache;

#[cfg(feature = "mock")]
pub use api_key::MockApiKeyRepository;
pub use api_key::{
    ApiKey, ApiKeyRepoError, ApiKeyRepository, ApiKeySecret, KeyHash, KeyPrefix, NewApiKey, Scope,
    Scopes,
};
pub use authorizer::{AccessError, Authorizer, Caller};
