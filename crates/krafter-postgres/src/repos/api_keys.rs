use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::RunQueryDsl;
use krafter_domain::access::{ApiKey, ApiKeyRepoError, ApiKeyRepository, KeyPrefix};
use krafter_domain::ids::{ApiKeyId, OrgId};

use crate::rows::ApiKeyRow;
use crate::schema::api_keys;
use crate::store::violated;
use crate::PgStore;

#[async_trait]
impl ApiKeyRepository for PgStore {
    async fn insert(&self, key: &ApiKey) -> Result<(), ApiKeyRepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(api_keys::table)
            .values(ApiKeyRow::from(key))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                if violated(&e, DatabaseErrorKind::UniqueViolation) == Some("api_keys_prefix_key") {
                    ApiKeyRepoError::PrefixTaken
                } else if violated(&e, DatabaseErrorKind::ForeignKeyViolation).is_some() {
                    ApiKeyRepoError::UnknownOrganisation
                } else {
                    crate::store::storage_error(e).into()
                }
            })?;
        Ok(())
    }

    async fn find_by_prefix(&self, prefix: &KeyPrefix) -> Result<Option<ApiKey>, ApiKeyRepoError> {
        let mut conn = self.conn().await?;
        let row = api_keys::table
            .filter(api_keys::prefix.eq(prefix.as_str()))
            .select(ApiKeyRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(crate::store::storage_error)?;
        Ok(row.map(ApiKey::try_from).transpose()?)
    }

    async fn revoke(
        &self,
        org: OrgId,
        prefix: &KeyPrefix,
        at: DateTime<Utc>,
    ) -> Result<bool, ApiKeyRepoError> {
        let mut conn = self.conn().await?;
        let changed = diesel::update(
            api_keys::table
                .filter(api_keys::org_id.eq(org.as_uuid()))
                .filter(api_keys::prefix.eq(prefix.as_str()))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(at))
        .execute(&mut conn)
        .await
        .map_err(crate::store::storage_error)?;
        Ok(changed > 0)
    }

    /// Moves `last_used_at` forward only, so that concurrent uses cannot set it back.
    async fn touch(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), ApiKeyRepoError> {
        let mut conn = self.conn().await?;
        diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id.as_uuid()))
                .filter(
                    api_keys::last_used_at
                        .is_null()
                        .or(api_keys::last_used_at.lt(at)),
                ),
        )
        .set(api_keys::last_used_at.eq(at))
        .execute(&mut conn)
        .await
        .map_err(crate::store::storage_error)?;
        Ok(())
    }

    async fn list(&self, org: OrgId) -> Result<Vec<ApiKey>, ApiKeyRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ApiKeyRow> = api_keys::table
            .filter(api_keys::org_id.eq(org.as_uuid()))
            .order((api_keys::created_at.asc(), api_keys::id.asc()))
            .select(ApiKeyRow::as_select())
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(rows
            .into_iter()
            .map(ApiKey::try_from)
            .collect::<Result<Vec<_>, _>>()?)
    }
}
