//! `krafter org list`, `krafter project list`, `krafter key list`: one line per item, columns
//! separated by tabs (`-` for what is not set), or one JSON array with `--json`. Keys are shown by
//! prefix: the key itself is never stored, so never shown.

use chrono::{DateTime, SecondsFormat, Utc};
use krafter_domain::access::{ApiKey, ApiKeyRepository};
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository};
use krafter_postgres::PgStore;
use serde_json::{json, Value};

use crate::admin::CommandError;

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn print(rows: Vec<(Vec<String>, Value)>, as_json: bool) {
    if as_json {
        let items: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
        println!("{}", Value::Array(items));
    } else {
        for (columns, _) in rows {
            println!("{}", columns.join("\t"));
        }
    }
}

/// Fails with exit code 2 for an organisation that does not exist.
async fn existing(store: &PgStore, org: OrgId) -> Result<(), CommandError> {
    OrganisationRepository::find(store, org)
        .await
        .map_err(CommandError::failed)?
        .map(|_| ())
        .ok_or_else(|| CommandError::Invalid(format!("no organisation {org}")))
}

pub async fn orgs(store: &PgStore, as_json: bool) -> Result<(), CommandError> {
    let orgs = OrganisationRepository::list(store)
        .await
        .map_err(CommandError::failed)?;
    let row = |o: &Organisation| {
        (
            vec![o.id.to_string(), o.name.clone(), time(o.created_at)],
            json!({"id": o.id.to_string(), "name": o.name, "created_at": time(o.created_at)}),
        )
    };
    print(orgs.iter().map(row).collect(), as_json);
    Ok(())
}

pub async fn projects(store: &PgStore, org: OrgId, as_json: bool) -> Result<(), CommandError> {
    existing(store, org).await?;
    let projects = ProjectRepository::list(store, org)
        .await
        .map_err(CommandError::failed)?;
    let row = |p: &Project| {
        (
            vec![
                p.slug.as_str().to_owned(),
                p.name.clone(),
                time(p.created_at),
            ],
            json!({"slug": p.slug.as_str(), "name": p.name, "id": p.id.to_string(), "created_at": time(p.created_at)}),
        )
    };
    print(projects.iter().map(row).collect(), as_json);
    Ok(())
}

pub async fn keys(store: &PgStore, org: OrgId, as_json: bool) -> Result<(), CommandError> {
    existing(store, org).await?;
    let keys = ApiKeyRepository::list(store, org)
        .await
        .map_err(CommandError::failed)?;
    let or_dash = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".to_owned(), time);
    let row = |k: &ApiKey| {
        (
            vec![
                k.prefix.as_str().to_owned(),
                k.name.clone(),
                k.scopes.to_string(),
                time(k.created_at),
                or_dash(k.last_used_at),
                or_dash(k.revoked_at),
            ],
            json!({
                "prefix": k.prefix.as_str(),
                "name": k.name,
                "scopes": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "created_at": time(k.created_at),
                "last_used_at": k.last_used_at.map(time),
                "revoked_at": k.revoked_at.map(time),
            }),
        )
    };
    print(keys.iter().map(row).collect(), as_json);
    Ok(())
}
