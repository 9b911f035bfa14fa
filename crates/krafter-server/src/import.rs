//! `krafter import`: scanner results from a file into a project, as `POST …/audit/imports` takes
//! them, against the database directly. Prints the counts (one JSON object with `--json`).

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use krafter_domain::import::{
    parse_document, BodyKind, DocumentError, ImportError, ImportRecord, ImportRequest, Imports,
};
use krafter_domain::ledger::{parse_instant, SourceName};
use krafter_domain::project::{ProjectRepository, ProjectSlug};
use krafter_domain::Clock;
use krafter_postgres::PgStore;
use serde_json::json;

use crate::admin::{self, CommandError};

/// What `krafter import` was asked to do.
pub struct ImportCommand<'a> {
    pub org: &'a str,
    pub project: &'a str,
    pub source: Option<&'a str>,
    pub close_missing: bool,
    pub occurred_at: Option<&'a str>,
    pub file: &'a Path,
    pub json: bool,
}

pub async fn run(
    store: &PgStore,
    clock: Arc<dyn Clock>,
    command: ImportCommand<'_>,
) -> Result<(), CommandError> {
    let org = admin::org_id(command.org)?;
    let slug = ProjectSlug::parse(command.project)?;
    let source = command.source.map(SourceName::parse).transpose()?;
    let occurred_at = command
        .occurred_at
        .map(|raw| parse_instant("occurred_at", raw))
        .transpose()?;
    let project = ProjectRepository::find(store, org, &slug)
        .await
        .map_err(CommandError::failed)?
        .ok_or_else(|| CommandError::Invalid(format!("no project {slug} in organisation {org}")))?;

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let body = read_with_progress(command.file, &bar)?;
    bar.set_style(spinner("reading the results"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let kind = match command.file.extension().and_then(|e| e.to_str()) {
        Some("sarif") => BodyKind::Sarif,
        _ => BodyKind::Json,
    };
    let document = tokio::task::spawn_blocking(move || parse_document(&body, kind, source))
        .await
        .map_err(CommandError::failed)?
        .map_err(|e| match e {
            DocumentError::Invalid(e) => CommandError::Invalid(format!(
                "{}: cannot be imported: {}: {}",
                command.file.display(),
                e.path,
                e.message
            )),
            DocumentError::Params(e) => e.into(),
            DocumentError::NotJson(e) => {
                CommandError::Invalid(format!("{} is not JSON: {e}", command.file.display()))
            }
        })?;
    bar.set_style(spinner(&format!(
        "applying {} results of {}",
        document.results.len(),
        document.source
    )));
    let request = ImportRequest {
        document,
        close_missing: command.close_missing,
        occurred_at,
    };
    let record = Imports::new(Arc::new(store.clone()), clock)
        .import(project.id, request)
        .await
        .map_err(|e| match e {
            ImportError::Invalid(e) => e.into(),
            ImportError::Storage(e) => CommandError::failed(e),
        })?;
    bar.finish_and_clear();
    if command.json {
        println!("{}", to_json(&record));
    } else {
        println!("{}", to_text(&record));
    }
    Ok(())
}

fn spinner(message: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{message} {{spinner}} {{elapsed_precise}}"))
        .expect("a valid template")
}

/// The whole file, with its size as the bar's length.
fn read_with_progress(path: &Path, bar: &ProgressBar) -> Result<Vec<u8>, CommandError> {
    let cannot =
        |e: std::io::Error| CommandError::Invalid(format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    bar.set_length(size);
    bar.set_style(
        ProgressStyle::with_template("reading {bytes}/{total_bytes} [{bar:40}] {elapsed_precise}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut chunk = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut chunk).map_err(cannot)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        bar.set_position(body.len() as u64);
    }
    Ok(body)
}

pub fn to_json(r: &ImportRecord) -> serde_json::Value {
    json!({
        "import_id": r.id.to_string(),
        "source": r.source.as_str(),
        "format": r.format.as_str(),
        "close_missing": r.close_missing,
        "occurred_at": r.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "received": r.counts.received,
        "created": r.counts.created,
        "unchanged": r.counts.unchanged,
        "reopened": r.counts.reopened,
        "resolved": r.counts.resolved,
        "ignored_dismissed": r.counts.ignored_dismissed,
    })
}

pub fn to_text(r: &ImportRecord) -> String {
    let c = r.counts;
    format!(
        "import {} of {} ({}): received {}, created {}, unchanged {}, reopened {}, resolved {}, ignored (dismissed) {}",
        r.id,
        r.source,
        r.format,
        c.received,
        c.created,
        c.unchanged,
        c.reopened,
        c.resolved,
        c.ignored_dismissed
    )
}
