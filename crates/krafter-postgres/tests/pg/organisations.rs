use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepoError, OrganisationRepository};

use crate::{at, Fixture};

#[tokio::test]
async fn an_organisation_reads_back_as_created() {
    let fx = Fixture::new().await;
    let org = Organisation {
        id: OrgId::generate(),
        name: "Initech Ltd".into(),
        created_at: at("2026-03-04T05:06:07.123456Z"),
    };
    fx.store.create(&org).await.unwrap();
    assert_eq!(fx.store.find(org.id).await.unwrap(), Some(org));
    assert_eq!(
        fx.store.find(fx.org.id).await.unwrap(),
        Some(fx.org.clone())
    );
}

#[tokio::test]
async fn an_unknown_organisation_is_none() {
    let fx = Fixture::new().await;
    assert_eq!(fx.store.find(OrgId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn a_second_organisation_with_the_same_id_is_a_storage_failure() {
    let fx = Fixture::new().await;
    let err = fx.store.create(&fx.org).await.unwrap_err();
    assert!(matches!(err, OrganisationRepoError::Storage(_)), "{err:?}");
    assert_eq!(fx.count("SELECT count(*) FROM organisations").await, 1);
}

#[tokio::test]
async fn any_tells_an_empty_database_apart() {
    let db = krafter_test_support::TestDatabase::new().await;
    let store = krafter_postgres::PgStore::connect(db.url(), 1)
        .await
        .unwrap();
    assert!(!store.any().await.unwrap());
    let org = Organisation {
        id: OrgId::generate(),
        name: "First".into(),
        created_at: at("2026-03-04T05:06:07Z"),
    };
    store.create(&org).await.unwrap();
    assert!(store.any().await.unwrap());
}
