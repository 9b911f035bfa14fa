//! Artefacts kept in an `object_store` store: the local file system by default, an S3 bucket
//! (Amazon or S3-compatible) by configuration.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use krafter_domain::export::{ArtefactStore, ArtefactStoreError};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncReadExt;

/// Files up to this size are stored in one `put`; larger ones in parts of this size, one at a
/// time, so that storing a file never holds more than this much of it in memory.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// The environment variable [`ArtefactLocation::parse`] reads, named in its errors.
pub const ARTEFACTS_URL_VAR: &str = "KRAFTER_ARTEFACTS_URL";

/// [`ArtefactStore`] over any [`ObjectStore`]; [`FsArtefactStore::new`] roots it in a directory,
/// [`artefact_store`] opens the one `KRAFTER_ARTEFACTS_URL` names.
///
/// Writes are atomic: `LocalFileSystem` writes to a staging file beside the target and renames
/// it over the target once complete, and object stores publish an object only when its upload
/// completes.
#[derive(Clone)]
pub struct FsArtefactStore {
    store: Arc<dyn ObjectStore>,
}

/// Shows the store's `Display` only (its kind and bucket or prefix), never its configuration.
impl fmt::Debug for FsArtefactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsArtefactStore")
            .field("store", &format_args!("{}", self.store))
            .finish()
    }
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
    /// `KRAFTER_ARTEFACTS_URL` is not a URL we accept. The message never repeats the whole
    /// value, which might hold a secret.
    #[error(
        "{ARTEFACTS_URL_VAR} must be unset, s3://bucket[/prefix] or file:///absolute/path: {0}"
    )]
    BadUrl(String),
}

/// Where artefacts are kept, as `KRAFTER_ARTEFACTS_URL` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtefactLocation {
    /// Files under this directory: `KRAFTER_DATA_DIR/artefacts` when the variable is unset, or
    /// the path of a `file:///…` URL.
    Directory(PathBuf),
    /// An S3 bucket (Amazon S3 or an S3-compatible server), keys under `prefix` (the bucket's
    /// root when it is empty). Credentials, region and endpoint come from the `AWS_*` variables.
    S3 { bucket: String, prefix: ObjectPath },
}

impl ArtefactLocation {
    /// Reads `KRAFTER_ARTEFACTS_URL`: unset or blank means `default_dir`; `s3://bucket[/prefix]`
    /// an S3 bucket; `file:///absolute/path` (or `file://localhost/…`, percent-encoded) a
    /// directory. Anything else is [`StoreSetupError::BadUrl`].
    pub fn parse(url: Option<&str>, default_dir: &Path) -> Result<Self, StoreSetupError> {
        let url = match url.map(str::trim) {
            None | Some("") => return Ok(Self::Directory(default_dir.to_path_buf())),
            Some(url) => url,
        };
        let bad = |reason: String| Err(StoreSetupError::BadUrl(reason));
        let Some((scheme, rest)) = url.split_once("://") else {
            return bad("it has no scheme (no \"://\")".to_owned());
        };
        if rest.contains(['?', '#']) {
            return bad("a query (?) or fragment (#) is not accepted".to_owned());
        }
        // `user:secret@host`: refused before anything of it could be quoted in an error.
        if rest.contains('@') {
            return bad(
                "credentials (or any '@') do not belong in it: set AWS_ACCESS_KEY_ID \
                        and AWS_SECRET_ACCESS_KEY"
                    .to_owned(),
            );
        }
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if !valid_bucket(bucket) {
                    return bad(format!(
                        "{bucket:?} is not a bucket name (3 to 63 of a-z, 0-9, '.' and '-', \
                         starting and ending with a letter or digit)"
                    ));
                }
                if prefix.starts_with('/') {
                    return bad("the key prefix starts with an empty segment (\"//\")".to_owned());
                }
                let prefix = ObjectPath::parse(prefix)
                    .map_err(|e| StoreSetupError::BadUrl(format!("the key prefix: {e}")))?;
                Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    prefix,
                })
            }
            "file" => {
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return bad(
                        "a file URL needs an absolute path: file:///absolute/path".to_owned()
                    );
                }
                match percent_decode(path) {
                    Some(path) => Ok(Self::Directory(PathBuf::from(path))),
                    None => bad("the file URL's path has a malformed %-escape".to_owned()),
                }
            }
            other
                if other
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                bad(format!("the scheme {other:?} is not supported"))
            }
            _ => bad("its scheme is not supported".to_owned()),
        }
    }

    /// Opens the store, an S3 one configured from the `AWS_*` environment variables
    /// ([`AmazonS3Builder::from_env`]: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, …).
    pub fn open(&self) -> Result<FsArtefactStore, StoreSetupError> {
        self.open_with(AmazonS3Builder::from_env())
    }

    /// Opens the store, an S3 one from `s3` with the bucket set; a directory is created if
    /// missing. No request is made: a wrong endpoint or credentials show on the first export.
    pub fn open_with(&self, s3: AmazonS3Builder) -> Result<FsArtefactStore, StoreSetupError> {
        match self {
            Self::Directory(dir) => FsArtefactStore::new(dir),
            Self::S3 { bucket, prefix } => {
                let s3 = s3.with_bucket_name(bucket).build()?;
                let store: Arc<dyn ObjectStore> = match prefix.parts_count() {
                    0 => Arc::new(s3),
                    _ => Arc::new(PrefixStore::new(s3, prefix.clone())),
                };
                Ok(FsArtefactStore::from_object_store(store))
            }
        }
    }
}

/// For logs: the directory, or `s3://bucket/prefix`. Holds no secret: the URL cannot carry one.
impl fmt::Display for ArtefactLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory(dir) => write!(f, "{}", dir.display()),
            Self::S3 { bucket, prefix } if prefix.parts_count() == 0 => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The artefact store `KRAFTER_ARTEFACTS_URL` (`url`) names: files under `default_dir` when it
/// is unset. See [`ArtefactLocation::parse`] and [`ArtefactLocation::open`].
pub fn artefact_store(
    url: Option<&str>,
    default_dir: &Path,
) -> Result<FsArtefactStore, StoreSetupError> {
    ArtefactLocation::parse(url, default_dir)?.open()
}

/// S3's bucket naming rules, loosely: 3 to 63 characters of `a-z0-9.-`, alphanumeric at both
/// ends.
fn valid_bucket(bucket: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(bucket.chars().next())
        && edge(bucket.chars().last())
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: Option<&str>) -> Result<ArtefactLocation, StoreSetupError> {
        ArtefactLocation::parse(url, Path::new("/data/artefacts"))
    }

    fn s3(bucket: &str, prefix: &str) -> ArtefactLocation {
        ArtefactLocation::S3 {
            bucket: bucket.to_owned(),
            prefix: ObjectPath::parse(prefix).unwrap(),
        }
    }

    fn error(url: &str) -> String {
        match parse(Some(url)) {
            Err(e @ StoreSetupError::BadUrl(_)) => e.to_string(),
            other => panic!("{url:?}: expected BadUrl, got {other:?}"),
        }
    }

    #[test]
    fn unset_or_blank_is_the_local_directory() {
        let local = ArtefactLocation::Directory("/data/artefacts".into());
        assert_eq!(parse(None).unwrap(), local);
        assert_eq!(parse(Some("")).unwrap(), local);
        assert_eq!(parse(Some("  ")).unwrap(), local);
    }

    #[test]
    fn s3_urls_give_a_bucket_and_a_prefix() {
        assert_eq!(parse(Some("s3://krafter")).unwrap(), s3("krafter", ""));
        assert_eq!(parse(Some("s3://krafter/")).unwrap(), s3("krafter", ""));
        assert_eq!(
            parse(Some("s3://my.bucket-1/reports/prod/")).unwrap(),
            s3("my.bucket-1", "reports/prod")
        );
        assert_eq!(
            parse(Some(" S3://krafter/artefacts ")).unwrap(),
            s3("krafter", "artefacts")
        );
        match parse(Some("s3://krafter/a/b")).unwrap() {
            ArtefactLocation::S3 { prefix, .. } => assert_eq!(prefix.parts_count(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_urls_give_a_directory() {
        assert_eq!(
            parse(Some("file:///var/lib/krafter/artefacts")).unwrap(),
            ArtefactLocation::Directory("/var/lib/krafter/artefacts".into())
        );
        assert_eq!(
            parse(Some("file://localhost/srv/my%20artefacts/")).unwrap(),
            ArtefactLocation::Directory("/srv/my artefacts/".into())
        );
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable() {
        for url in [
            "http://example.com/bucket",
            "gs://bucket/prefix",
            "krafter-bucket",
            "/var/lib/krafter",
            "s3://",
            "s3:///prefix",
            "s3://ab",
            "s3://Upper-Case",
            "s3://-dash",
            "s3://bucket:9000/prefix",
            "s3://bucket//double",
            "s3://bucket/a/../b",
            "s3://bucket/prefix?versionId=1",
            "s3://bucket/prefix#x",
            "file://relative/path",
            "file://host/srv",
            "file:///srv/%zz",
            "file:///srv/%+1",
        ] {
            let message = error(url);
            assert!(
                message.contains("KRAFTER_ARTEFACTS_URL"),
                "{url}: {message}"
            );
        }
        assert!(error("ftp://x").contains("\"ftp\""), "names the scheme");
    }

    #[test]
    fn errors_never_repeat_credentials() {
        for url in [
            "s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/prefix",
            "s3://AKIDEXAMPLE:wJalr/XUtnFEMI@bucket/prefix",
            "https://AKIDEXAMPLE:wJalrXUtnFEMI@s3.example.com/bucket",
            "file://AKIDEXAMPLE:wJalrXUtnFEMI@localhost/srv",
            "AKIDEXAMPLE:wJalrXUtnFEMI",
        ] {
            let message = error(url);
            assert!(
                !message.contains("wJalr") && !message.contains("AKIDEXAMPLE"),
                "{url}: {message}"
            );
        }
    }

    #[test]
    fn displays_only_scheme_bucket_and_prefix() {
        assert_eq!(s3("krafter", "").to_string(), "s3://krafter");
        assert_eq!(s3("krafter", "a/b").to_string(), "s3://krafter/a/b");
        assert_eq!(
            ArtefactLocation::Directory("/data/artefacts".into()).to_string(),
            "/data/artefacts"
        );
    }

    #[test]
    fn opens_an_s3_store_without_a_request_and_hides_its_secret() {
        let builder = || {
            AmazonS3Builder::new()
                .with_region("eu-west-1")
                .with_endpoint("http://127.0.0.1:9")
                .with_allow_http(true)
                .with_access_key_id("AKIDEXAMPLE")
                .with_secret_access_key("wJalrXUtnFEMI-secret")
        };
        for location in [s3("krafter", ""), s3("krafter", "reports/prod")] {
            let store = location.open_with(builder()).expect("builds");
            let shown = format!("{store:?}");
            assert!(!shown.contains("wJalr"), "{shown}");
        }
    }

    #[test]
    fn opens_a_directory_creating_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("b");
        let url = format!("file://{}", dir.display());
        artefact_store(Some(&url), Path::new("/nonexistent/default")).expect("opens");
        assert!(dir.is_dir());
        artefact_store(None, &tmp.path().join("default")).expect("opens");
        assert!(tmp.path().join("default").is_dir());
    }
}
