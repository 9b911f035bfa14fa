//! Artefacts kept in an `object_store` store: the local file system by default.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use krafter_domain::export::{ArtefactStore, ArtefactStoreError};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncReadExt;

/// Files up to this size are stored in one `put`; larger ones in parts of this size, one at a
/// time, so that storing a file never holds more than this much of it in memory.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// [`ArtefactStore`] over any [`ObjectStore`]; [`FsArtefactStore::new`] roots it in a directory.
///
/// Writes are atomic: `LocalFileSystem` writes to a staging file beside the target and renames
/// it over the target once complete, and object stores publish an object only when its upload
/// completes.
#[derive(Debug, Clone)]
pub struct FsArtefactStore {
    store: Arc<dyn ObjectStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreSetupError {
    #[error("could not create the artefact directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not open the artefact store: {0}")]
    Store(#[from] object_store::Error),
}

impl FsArtefactStore {
    /// A store keeping artefacts as files under `root`, created if missing.
    pub fn new(root: &Path) -> Result<Self, StoreSetupError> {
        std::fs::create_dir_all(root).map_err(|source| StoreSetupError::CreateDir {
            path: root.display().to_string(),
            source,
        })?;
        let local = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self::from_object_store(Arc::new(local)))
    }

    /// A store over any object store (an S3-compatible one, in memory for tests, …).
    pub fn from_object_store(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

fn location(key: &str) -> Result<ObjectPath, ArtefactStoreError> {
    let path = ObjectPath::parse(key)
        .map_err(|e| ArtefactStoreError::Io(format!("invalid artefact key {key:?}: {e}")))?;
    if path.as_ref().is_empty() {
        return Err(ArtefactStoreError::Io("empty artefact key".to_owned()));
    }
    Ok(path)
}

fn store_error(e: object_store::Error) -> ArtefactStoreError {
    match e {
        object_store::Error::NotFound { .. } => ArtefactStoreError::NotFound,
        other => ArtefactStoreError::Io(other.to_string()),
    }
}

fn io_error(what: &str, file: &Path, e: std::io::Error) -> ArtefactStoreError {
    ArtefactStoreError::Io(format!("could not {what} {}: {e}", file.display()))
}

/// Reads up to `PART_SIZE` bytes: a full part unless the file ends first.
async fn read_part(file: &mut tokio::fs::File, path: &Path) -> Result<Vec<u8>, ArtefactStoreError> {
    let mut part = Vec::with_capacity(PART_SIZE);
    while part.len() < PART_SIZE {
        let n = (&mut *file)
            .take((PART_SIZE - part.len()) as u64)
            .read_to_end(&mut part)
            .await
            .map_err(|e| io_error("read", path, e))?;
        if n == 0 {
            break;
        }
    }
    Ok(part)
}

#[async_trait]
impl ArtefactStore for FsArtefactStore {
    async fn put_file(&self, key: &str, file: &Path) -> Result<u64, ArtefactStoreError> {
        let location = location(key)?;
        let mut source = tokio::fs::File::open(file)
            .await
            .map_err(|e| io_error("open", file, e))?;
        let first = read_part(&mut source, file).await?;
        let mut size = first.len() as u64;
        if first.len() < PART_SIZE {
            self.store
                .put(&location, PutPayload::from(first))
                .await
                .map_err(store_error)?;
            return Ok(size);
        }
        let mut upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(store_error)?;
        let mut part = first;
        let result: Result<(), ArtefactStoreError> = async {
            loop {
                upload
                    .put_part(PutPayload::from(part))
                    .await
                    .map_err(store_error)?;
                part = read_part(&mut source, file).await?;
                if part.is_empty() {
                    break;
                }
                size += part.len() as u64;
            }
            upload.complete().await.map_err(store_error)?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // Best effort: the staged parts are useless now; the error that matters is `e`.
            let _ = upload.abort().await;
            return Err(e);
        }
        Ok(size)
    }

    async fn open(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, ArtefactStoreError>>, ArtefactStoreError>
    {
        let location = location(key)?;
        let found = self.store.get(&location).await.map_err(store_error)?;
        Ok(found
            .into_stream()
            .map(|chunk| chunk.map_err(store_error))
            .boxed())
    }
}
