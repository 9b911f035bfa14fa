use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::RunQueryDsl;
use krafter_domain::ids::OrgId;
use krafter_domain::project::{Project, ProjectRepoError, ProjectRepository, ProjectSlug};

use crate::rows::ProjectRow;
use crate::schema::projects;
use crate::store::violated;
use crate::PgStore;

#[async_trait]
impl ProjectRepository for PgStore {
    async fn create(&self, project: &Project) -> Result<(), ProjectRepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(projects::table)
            .values(ProjectRow::from(project))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                if violated(&e, DatabaseErrorKind::UniqueViolation) == Some("projects_org_slug_key")
                {
                    ProjectRepoError::SlugTaken
                } else if violated(&e, DatabaseErrorKind::ForeignKeyViolation).is_some() {
                    ProjectRepoError::UnknownOrganisation
                } else {
                    crate::store::storage_error(e).into()
                }
            })?;
        Ok(())
    }

    async fn find(
        &self,
        org: OrgId,
        slug: &ProjectSlug,
    ) -> Result<Option<Project>, ProjectRepoError> {
        let mut conn = self.conn().await?;
        let row = projects::table
            .filter(projects::org_id.eq(org.as_uuid()))
            .filter(projects::slug.eq(slug.as_str()))
            .select(ProjectRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(crate::store::storage_error)?;
        Ok(row.map(Project::try_from).transpose()?)
    }

    async fn list(&self, org: OrgId) -> Result<Vec<Project>, ProjectRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ProjectRow> = projects::table
            .filter(projects::org_id.eq(org.as_uuid()))
            .order(projects::slug.asc())
            .select(ProjectRow::as_select())
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(rows
            .into_iter()
            .map(Project::try_from)
            .collect::<Result<Vec<_>, _>>()?)
    }
}
