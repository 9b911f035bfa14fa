use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepoError, OrganisationRepository};

use crate::rows::OrganisationRow;
use crate::schema::organisations;
use crate::PgStore;

#[async_trait]
impl OrganisationRepository for PgStore {
    async fn create(&self, organisation: &Organisation) -> Result<(), OrganisationRepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(organisations::table)
            .values(OrganisationRow::from(organisation))
            .execute(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(())
    }

    async fn find(&self, id: OrgId) -> Result<Option<Organisation>, OrganisationRepoError> {
        let mut conn = self.conn().await?;
        let row = organisations::table
            .find(id.as_uuid())
            .select(OrganisationRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(crate::store::storage_error)?;
        Ok(row.map(Organisation::from))
    }

    async fn any(&self) -> Result<bool, OrganisationRepoError> {
        let mut conn = self.conn().await?;
        let any = diesel::select(diesel::dsl::exists(
            organisations::table.select(organisations::id),
        ))
        .get_result(&mut conn)
        .await
        .map_err(crate::store::storage_error)?;
        Ok(any)
    }

    async fn list(&self) -> Result<Vec<Organisation>, OrganisationRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<OrganisationRow> = organisations::table
            .order((organisations::created_at.asc(), organisations::id.asc()))
            .select(OrganisationRow::as_select())
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(rows.into_iter().map(Organisation::from).collect())
    }
}
