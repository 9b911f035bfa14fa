use std::path::Path;

use futures::TryStreamExt;
use krafter_domain::export::{ArtefactStore, ArtefactStoreError};
use krafter_render::FsArtefactStore;

async fn read_back(store: &FsArtefactStore, key: &str) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = store
        .open(key)
        .await
        .expect("open")
        .try_collect()
        .await
        .expect("read");
    chunks.concat()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ seed)
        .collect()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path().display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn stores_replaces_and_streams_artefacts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data").join("artefacts");
    let store = FsArtefactStore::new(&root).expect("creates the directory");
    assert!(root.is_dir());
    let key = "0190a0b0-org/0190a0b1-report.csv";

    let small = tmp.path().join("small.csv");
    std::fs::write(&small, b"id,title\r\n1,first\r\n").unwrap();
    assert_eq!(store.put_file(key, &small).await.unwrap(), 19);
    assert_eq!(read_back(&store, key).await, b"id,title\r\n1,first\r\n");

    // Bigger than a part: uploaded in parts, read back whole.
    let big_bytes = pattern(20 * 1024 * 1024 + 12_345, 7);
    let big = tmp.path().join("big.pdf");
    std::fs::write(&big, &big_bytes).unwrap();
    assert_eq!(
        store.put_file(key, &big).await.unwrap(),
        big_bytes.len() as u64
    );
    assert!(
        read_back(&store, key).await == big_bytes,
        "replaced, same bytes"
    );

    // Replaced again, by something smaller.
    let empty = tmp.path().join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(store.put_file(key, &empty).await.unwrap(), 0);
    assert!(read_back(&store, key).await.is_empty());

    // One file, no staging files left behind.
    assert_eq!(
        files_under(&root),
        vec![root.join(key).display().to_string()]
    );
}

#[tokio::test]
async fn a_missing_key_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsArtefactStore::new(tmp.path()).unwrap();
    assert!(matches!(
        store.open("org/none.pdf").await,
        Err(ArtefactStoreError::NotFound)
    ));
}

#[tokio::test]
async fn bad_keys_and_missing_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsArtefactStore::new(tmp.path()).unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    for key in ["../escape", "a/../b", ""] {
        assert!(
            matches!(
                store.put_file(key, &file).await,
                Err(ArtefactStoreError::Io(_))
            ),
            "{key:?}"
        );
    }
    assert!(matches!(
        store
            .put_file("org/r.pdf", &tmp.path().join("missing"))
            .await,
        Err(ArtefactStoreError::Io(_))
    ));
}
