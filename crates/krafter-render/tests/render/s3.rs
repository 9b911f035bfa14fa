//! The artefact store on an S3-compatible server: moto's `moto_server` on loopback, a child of
//! the test. Ignored by default (a fresh machine has no `moto_server`); `.ci/run` installs moto
//! and runs it, and run without `moto_server` it fails, saying how to install it.

use std::path::Path;

use futures::TryStreamExt;
use krafter_domain::export::{ArtefactStore, ArtefactStoreError};
use krafter_render::{ArtefactLocation, FsArtefactStore};
use krafter_test_support::moto::MotoServer;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

const BUCKET: &str = "krafter-artefacts";

/// A builder configured as `AmazonS3Builder::from_env` would be by moto's `AWS_*` variables
/// (the test does not change its own environment).
fn builder(moto: &MotoServer) -> AmazonS3Builder {
    moto.aws_env()
        .into_iter()
        .fold(AmazonS3Builder::new(), |builder, (name, value)| {
            let key: AmazonS3ConfigKey = name.to_ascii_lowercase().parse().expect(name);
            builder.with_config(key, value)
        })
}

fn open(moto: &MotoServer, url: &str) -> FsArtefactStore {
    let location = ArtefactLocation::parse(Some(url), Path::new("/unused")).expect(url);
    assert!(matches!(location, ArtefactLocation::S3 { .. }), "{url}");
    location.open_with(builder(moto)).expect("opens")
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
    let moto = MotoServer::start().await;
    moto.create_bucket(BUCKET).await;
    let store = open(&moto, &format!("s3://{BUCKET}/krafter/test/"));
    let whole_bucket = open(&moto, &format!("s3://{BUCKET}"));

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
