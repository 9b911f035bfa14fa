//! Newest-first keyset pagination by `(created_at, id)`, shared by every listing (findings,
//! reports, imports): the filter that resumes after a cursor, and the page made of the
//! `limit + 1` rows the query asked for.

use chrono::{DateTime, Utc};
use krafter_domain::page::{KeysetCursor, KeysetId, Page};
use krafter_domain::storage::StorageError;

/// `select` (a boxed query on `$table`) resumed after `$after`: (created_at, id) < (the cursor's),
/// written in a form the `(…, created_at DESC, id DESC)` indexes bound.
macro_rules! resume_after {
    ($select:expr, $table:ident, $after:expr) => {{
        let select = $select;
        match $after {
            Some(after) => select.filter(
                $table::created_at.le(after.created_at).and(
                    $table::created_at
                        .lt(after.created_at)
                        .or($table::id.lt(after.id.as_uuid())),
                ),
            ),
            None => select,
        }
    }};
}
pub(crate) use resume_after;

/// The page of `rows` (the query's `limit + 1`, newest first): the first `limit`, read with
/// `read`, and the cursor after the last of them when there was one more.
pub(crate) fn page_of<R, T, Id: KeysetId>(
    rows: Vec<R>,
    limit: usize,
    read: impl FnMut(R) -> Result<T, StorageError>,
    key: impl Fn(&T) -> (DateTime<Utc>, Id),
) -> Result<Page<T, KeysetCursor<Id>>, StorageError> {
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        items.last().map(|item| {
            let (created_at, id) = key(item);
            KeysetCursor { created_at, id }
        })
    } else {
        None
    };
    Ok(Page { items, next })
}
