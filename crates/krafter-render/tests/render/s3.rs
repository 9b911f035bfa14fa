//! The artefact store on an S3-compatible server: moto's `moto_server` on loopback, a child of
//! the test. Ignored by default (a fresh machine has no `moto_server`); `.ci/run` installs moto
//! and runs it, and run without `moto_server` it fails, saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use krafter_domain::export::{ArtefactStore, ArtefactStoreError};
use krafter_render::{ArtefactLocation, FsArtefactStore};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

use crate::artefact_dir;

const BUCKET: &str = "krafter-artefacts";
/// Where `.ci/run` installs moto when nothing else says where it is.
const CI_VENV: &str = "/var/cache/krafter-ci/moto/bin/moto_server";

/// `moto_server`: `KRAFTER_MOTO_SERVER`, else on `PATH`, else in `.ci/run`'s venv.
fn find_moto_server() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("KRAFTER_MOTO_SERVER").filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        assert!(
            given.is_file(),
            "KRAFTER_MOTO_SERVER={} is not a file",
            given.display()
        );
        return Some(given);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file());
    on_path.or_else(|| Some(PathBuf::from(CI_VENV)).filter(|p| p.is_file()))
}

/// A `moto_server` child, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    async fn start(program: &Path) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let log_path = artefact_dir("s3").join("moto_server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!(
                    "moto_server exited with {status}:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            let answer = http
                .get(&moto.endpoint)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {} within 60 s; its log: {}",
                moto.endpoint,
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a bucket with a plain `PUT /bucket` (moto does not check signatures).
    async fn create_bucket(&self, bucket: &str) {
        let answer = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("PUT bucket");
        assert!(
            answer.status().is_success(),
            "PUT bucket: {}",
            answer.status()
        );
    }

    /// A builder configured as `AmazonS3Builder::from_env` would be by these `AWS_*`
    /// variables (the test does not change its own environment).
    fn builder(&self) -> AmazonS3Builder {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .fold(AmazonS3Builder::new(), |builder, (name, value)| {
            let key: AmazonS3ConfigKey = name.to_ascii_lowercase().parse().expect(name);
            builder.with_config(key, value)
        })
    }

    fn open(&self, url: &str) -> FsArtefactStore {
        let location = ArtefactLocation::parse(Some(url), Path::new("/unused")).expect(url);
        assert!(matches!(location, ArtefactLocation::S3 { .. }), "{url}");
        location.open_with(self.builder()).expect("opens")
    }
}

async fn read_back(store: &FsArtefactStore, key: &str) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = store
        .open(key)
        .await
        .unwrap_or_else(|e| panic!("open {key}: {e:?}"))
        .try_collect()
        .await
        .expect("read");
    chunks.concat()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

#[tokio::test]
#[ignore = "needs moto_server (KRAFTER_MOTO_SERVER); .ci/run runs it"]
async fn stores_replaces_and_streams_artefacts_in_an_s3_bucket() {
    let program = find_moto_server().unwrap_or_else(|| {
        panic!(
            "moto_server not found (KRAFTER_MOTO_SERVER, PATH, {CI_VENV}); install it with \
             `python3 -m venv /var/cache/krafter-ci/moto && \
             /var/cache/krafter-ci/moto/bin/pip install 'moto[server]'`"
        )
    });
    let moto = Moto::start(&program).await;
    moto.create_bucket(BUCKET).await;
    let store = moto.open(&format!("s3://{BUCKET}/krafter/test/"));
    let whole_bucket = moto.open(&format!("s3://{BUCKET}"));

    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let csv_key = "0190a0b0-org/0190a0b1-report.csv";
    let pdf_key = "0190a0b0-org/0190a0b2-report.pdf";

    // A small file in one put, a 20 MiB one in 8 MiB parts.
    let small = b"id,title\r\n1,first\r\n".to_vec();
    let big = pattern(20 * 1024 * 1024 + 12_345, 7);
    assert_eq!(
        store
            .put_file(csv_key, &write("small.csv", &small))
            .await
            .unwrap(),
        small.len() as u64
    );
    assert_eq!(
        store
            .put_file(pdf_key, &write("big.pdf", &big))
            .await
            .unwrap(),
        big.len() as u64
    );
    assert_eq!(read_back(&store, csv_key).await, small);
    assert!(read_back(&store, pdf_key).await == big, "the 20 MiB file");

    // Replaced: the small one by another big one (in parts), the big one by an empty file.
    let big2 = pattern(17 * 1024 * 1024 + 1, 99);
    assert_eq!(
        store
            .put_file(csv_key, &write("big2.csv", &big2))
            .await
            .unwrap(),
        big2.len() as u64
    );
    assert_eq!(
        store
            .put_file(pdf_key, &write("empty.pdf", b""))
            .await
            .unwrap(),
        0
    );
    assert!(
        read_back(&store, csv_key).await == big2,
        "replaced by 17 MiB"
    );
    assert!(
        read_back(&store, pdf_key).await.is_empty(),
        "replaced by nothing"
    );

    assert!(matches!(
        store.open("0190a0b0-org/missing.pdf").await,
        Err(ArtefactStoreError::NotFound)
    ));
    assert!(matches!(
        whole_bucket.open(csv_key).await,
        Err(ArtefactStoreError::NotFound)
    ));

    // In the bucket, the two keys live under the prefix, and nothing else is there.
    let mut keys: Vec<(String, u64)> = whole_bucket
        .object_store()
        .list(None)
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .expect("lists the bucket");
    keys.sort();
    assert_eq!(
        keys,
        vec![
            (format!("krafter/test/{csv_key}"), big2.len() as u64),
            (format!("krafter/test/{pdf_key}"), 0),
        ]
    );
    assert!(read_back(&whole_bucket, &format!("krafter/test/{csv_key}")).await == big2);
}
