use krafter_domain::access::{ApiKey, ApiKeyRepoError, ApiKeyRepository, NewApiKey, Scope, Scopes};
use krafter_domain::ids::{ApiKeyId, OrgId};

use crate::{at, organisation, Fixture};

fn key(org: OrgId) -> ApiKey {
    NewApiKey::generate(
        org,
        "ci",
        Scopes::of(&[Scope::AuditRead, Scope::AuditWrite]),
        at("2026-04-01T08:00:00.000123Z"),
    )
    .key
}

#[tokio::test]
async fn a_key_is_found_by_its_prefix() {
    let fx = Fixture::new().await;
    let key = key(fx.org.id);
    fx.store.insert(&key).await.unwrap();
    assert_eq!(
        fx.store.find_by_prefix(&key.prefix).await.unwrap(),
        Some(key.clone())
    );
    let read_only = ApiKey {
        scopes: Scopes::of(&[Scope::AuditRead]),
        ..self::key(fx.org.id)
    };
    fx.store.insert(&read_only).await.unwrap();
    let found = fx
        .store
        .find_by_prefix(&read_only.prefix)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, read_only);
    assert!(!found.scopes.contains(Scope::AuditWrite));
    assert_eq!(
        fx.store
            .find_by_prefix(&self::key(fx.org.id).prefix)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_prefix_in_use_is_refused() {
    let fx = Fixture::new().await;
    let first = key(fx.org.id);
    fx.store.insert(&first).await.unwrap();
    let clash = ApiKey {
        id: ApiKeyId::generate(),
        ..key(fx.org.id)
    };
    let clash = ApiKey {
        prefix: first.prefix.clone(),
        ..clash
    };
    let err = fx.store.insert(&clash).await.unwrap_err();
    assert!(matches!(err, ApiKeyRepoError::PrefixTaken), "{err:?}");
    assert_eq!(fx.count("SELECT count(*) FROM api_keys").await, 1);
}

#[tokio::test]
async fn a_key_of_an_unknown_organisation_is_refused() {
    let fx = Fixture::new().await;
    let err = fx.store.insert(&key(OrgId::generate())).await.unwrap_err();
    assert!(
        matches!(err, ApiKeyRepoError::UnknownOrganisation),
        "{err:?}"
    );
    assert_eq!(fx.count("SELECT count(*) FROM api_keys").await, 0);
}

#[tokio::test]
async fn a_key_is_revoked_once_and_only_by_its_organisation() {
    let fx = Fixture::new().await;
    let other = organisation(&fx.store, "Other").await;
    let key = key(fx.org.id);
    fx.store.insert(&key).await.unwrap();
    let when = at("2026-04-02T09:00:00Z");

    assert!(!fx.store.revoke(other.id, &key.prefix, when).await.unwrap());
    assert_eq!(
        fx.store
            .find_by_prefix(&key.prefix)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    assert!(fx.store.revoke(fx.org.id, &key.prefix, when).await.unwrap());
    let revoked = fx.store.find_by_prefix(&key.prefix).await.unwrap();
    assert_eq!(
        revoked,
        Some(ApiKey {
            revoked_at: Some(when),
            ..key.clone()
        })
    );

    let later = at("2026-04-03T09:00:00Z");
    assert!(!fx
        .store
        .revoke(fx.org.id, &key.prefix, later)
        .await
        .unwrap());
    assert_eq!(
        fx.store
            .find_by_prefix(&key.prefix)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(when)
    );
    let unknown = self::key(fx.org.id);
    assert!(!fx
        .store
        .revoke(fx.org.id, &unknown.prefix, when)
        .await
        .unwrap());
}

#[tokio::test]
async fn touch_records_the_latest_use() {
    let fx = Fixture::new().await;
    let key = key(fx.org.id);
    let bystander = self::key(fx.org.id);
    fx.store.insert(&key).await.unwrap();
    fx.store.insert(&bystander).await.unwrap();
    let last_used = |prefix| {
        let store = fx.store.clone();
        async move {
            store
                .find_by_prefix(prefix)
                .await
                .unwrap()
                .unwrap()
                .last_used_at
        }
    };

    fx.store
        .touch(key.id, at("2026-04-05T00:00:00.5Z"))
        .await
        .unwrap();
    assert_eq!(
        last_used(&key.prefix).await,
        Some(at("2026-04-05T00:00:00.5Z"))
    );
    // A use reported late does not move it back.
    fx.store
        .touch(key.id, at("2026-04-04T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        last_used(&key.prefix).await,
        Some(at("2026-04-05T00:00:00.5Z"))
    );
    fx.store
        .touch(key.id, at("2026-04-06T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        last_used(&key.prefix).await,
        Some(at("2026-04-06T00:00:00Z"))
    );
    assert_eq!(last_used(&bystander.prefix).await, None);
    // A missing key is not an error.
    fx.store
        .touch(ApiKeyId::generate(), at("2026-04-06T00:00:00Z"))
        .await
        .unwrap();
}
