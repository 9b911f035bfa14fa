use krafter_domain::ids::OrgId;
use krafter_domain::project::{Project, ProjectRepoError, ProjectRepository, ProjectSlug};

use crate::{at, organisation, Fixture};

fn slug(s: &str) -> ProjectSlug {
    ProjectSlug::parse(s).unwrap()
}

#[tokio::test]
async fn a_project_is_found_by_its_organisation_and_slug() {
    let fx = Fixture::new().await;
    let project = Project::new(
        fx.org.id,
        slug("api-2"),
        Some("The API"),
        at("2026-05-01T10:00:00.000001Z"),
    )
    .unwrap();
    ProjectRepository::create(&fx.store, &project)
        .await
        .unwrap();
    assert_eq!(
        ProjectRepository::find(&fx.store, fx.org.id, &slug("api-2"))
            .await
            .unwrap(),
        Some(project)
    );
    assert_eq!(
        ProjectRepository::find(&fx.store, fx.org.id, &slug("web"))
            .await
            .unwrap(),
        Some(fx.project.clone())
    );
}

#[tokio::test]
async fn lookups_are_scoped_by_organisation() {
    let fx = Fixture::new().await;
    let other = organisation(&fx.store, "Other").await;
    let find = |org: OrgId, s: &'static str| {
        let store = fx.store.clone();
        async move {
            ProjectRepository::find(&store, org, &slug(s))
                .await
                .unwrap()
        }
    };
    assert_eq!(find(other.id, "web").await, None);
    assert_eq!(find(OrgId::generate(), "web").await, None);
    assert_eq!(find(fx.org.id, "nope").await, None);
}

#[tokio::test]
async fn a_slug_is_unique_within_an_organisation_only() {
    let fx = Fixture::new().await;
    let again = Project::new(fx.org.id, slug("web"), None, at("2026-05-01T00:00:00Z")).unwrap();
    let err = ProjectRepository::create(&fx.store, &again)
        .await
        .unwrap_err();
    assert!(matches!(err, ProjectRepoError::SlugTaken), "{err:?}");

    let other = organisation(&fx.store, "Other").await;
    let elsewhere = Project::new(other.id, slug("web"), None, at("2026-05-01T00:00:00Z")).unwrap();
    ProjectRepository::create(&fx.store, &elsewhere)
        .await
        .unwrap();
    assert_eq!(fx.count("SELECT count(*) FROM projects").await, 2);
}

#[tokio::test]
async fn a_project_of_an_unknown_organisation_is_refused() {
    let fx = Fixture::new().await;
    let orphan = Project::new(
        OrgId::generate(),
        slug("web"),
        None,
        at("2026-05-01T00:00:00Z"),
    )
    .unwrap();
    let err = ProjectRepository::create(&fx.store, &orphan)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProjectRepoError::UnknownOrganisation),
        "{err:?}"
    );
    assert_eq!(fx.count("SELECT count(*) FROM projects").await, 1);
}

#[tokio::test]
async fn a_second_project_with_the_same_id_is_a_storage_failure() {
    let fx = Fixture::new().await;
    let same_id = Project {
        slug: slug("other"),
        ..fx.project.clone()
    };
    let err = ProjectRepository::create(&fx.store, &same_id)
        .await
        .unwrap_err();
    assert!(matches!(err, ProjectRepoError::Storage(_)), "{err:?}");
}
