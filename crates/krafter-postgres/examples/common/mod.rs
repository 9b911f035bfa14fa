//! What both examples start from: a migrated scratch schema (`TestDatabase`: DATABASE_URL, or a
//! throwaway cluster; dropped at the end) with one organisation and one empty project.

use chrono::Utc;
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository, ProjectSlug};
use krafter_postgres::PgStore;
use krafter_test_support::TestDatabase;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Scratch {
    pub store: PgStore,
    pub project: Project,
    // Dropped last: the schema goes once nothing uses it.
    _db: TestDatabase,
}

pub async fn scratch() -> Result<Scratch, Error> {
    let db = TestDatabase::new().await;
    let store = PgStore::connect(db.url(), 2).await?;
    let now = Utc::now();
    let org = Organisation {
        id: OrgId::generate(),
        name: "Bench".into(),
        created_at: now,
    };
    OrganisationRepository::create(&store, &org).await?;
    let project = Project::new(org.id, ProjectSlug::parse("bench")?, None, now)?;
    ProjectRepository::create(&store, &project).await?;
    Ok(Scratch {
        store,
        project,
        _db: db,
    })
}
