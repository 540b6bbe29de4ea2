//! A shared workspace's blobs (`PREFIX/blobs/sha256/<hex>`) on a real S3 server (`SeaweedFS`'s
//! `weed mini`). A blob is stored once; a blob in the bucket that is not the one recorded (other bytes, more bytes) is
//! refused, naming its key and the SHA-256 expected, and nothing of it is kept.

use std::path::Path;

use crate::common::fault_proxy::{Fault, FaultProxy};
use crate::common::{self, S3Client, Weed};
use crate::team::{Console, access, open_as};
use release_console::digest::Sha256;
use release_console::workspace::WorkspaceError;
use release_console::workspace::blobs::{Blob, Fetched, Stored};

const WS: &str = "s3://team/wiretuner";

/// The object under `key` in bucket `team`: status and `Last-Modified`.
fn head(s3: &S3Client, key: &str) -> (u16, Option<String>) {
    let a = s3
        .send("HEAD", &format!("/team/{key}"), &[], b"")
        .expect("HEAD");
    (a.status, a.header("last-modified").map(str::to_owned))
}

fn blob_key(sha: &str) -> String {
    format!("wiretuner/blobs/sha256/{sha}")
}

#[test]
fn a_blob_is_stored_once_and_one_that_is_not_what_was_asked_for_is_refused() {
    let weed = Weed::start();
    weed.bucket("team");
    let s3 = S3Client::weed(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    common::ok(&ci.run(WS, &["init", WS]));
    let ana = open_as(&weed, dir.path(), "ana", WS);
    let ben = open_as(&weed, dir.path(), "ben", WS);
    let (a, b) = (ana.shared().expect("shared"), ben.shared().expect("shared"));

    // Small: one PUT, then a 412 and a HEAD.
    let file = dir.path().join("small.bin");
    std::fs::write(&file, b"0123456789").expect("write");
    let blob = Blob::of_file(&file).expect("blob");
    assert_eq!(blob.sha256, Sha256::of(b"0123456789"));
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::Uploaded);
    let key = blob_key(&blob.sha256.to_string());
    let (_, written) = head(&s3, &key);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::AlreadyThere);
    assert_eq!(b.put_blob(&file, blob).expect("put"), Stored::AlreadyThere);
    assert_eq!(head(&s3, &key).1, written, "stored once, never again");

    // Large: a multipart upload (publishing's), stored once too, and fetched whole.
    let big = dir.path().join("big.bin");
    let bytes: Vec<u8> = (0..65u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &bytes).expect("write");
    let big_blob = Blob::of_file(&big).expect("blob");
    assert!(big_blob.size >= release_console::workspace::blobs::MULTIPART_THRESHOLD);
    assert_eq!(a.put_blob(&big, big_blob).expect("put"), Stored::Uploaded);
    assert_eq!(
        b.put_blob(&big, big_blob).expect("put"),
        Stored::AlreadyThere
    );
    let into = dir.path().join("ben-got/big.bin");
    assert_eq!(
        b.fetch_blob(big_blob, &into).expect("fetch"),
        Fetched::Downloaded
    );
    assert!(std::fs::read(&into).expect("read") == bytes);
    assert_eq!(
        b.fetch_blob(big_blob, &into).expect("again"),
        Fetched::Cached
    );
    drop(bytes);

    // The bucket holds more bytes under the small blob's name than were recorded.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], &[b'x'; 4096]);
    assert_eq!(status, 200, "{body}");
    let refused = |got: Result<Fetched, WorkspaceError>, into: &Path, says: &str| {
        let e = got.expect_err("refused");
        let msg = e.to_string();
        assert!(matches!(e, WorkspaceError::BadBlob { .. }), "{msg}");
        assert!(
            msg.contains(&format!("s3://team/{key}"))
                && msg.contains(&format!("expected SHA-256 {}", blob.sha256))
                && msg.contains(says),
            "{msg}"
        );
        assert!(!into.exists(), "nothing of it kept: {msg}");
        let left: Vec<_> = std::fs::read_dir(into.parent().expect("dir"))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    };
    let into = dir.path().join("ben-small/small.bin");
    refused(
        b.fetch_blob(blob, &into),
        &into,
        "announces 4096 bytes, not the 10 bytes recorded",
    );
    // Through a proxy that drops its Content-Length, it is read: and cut off past the size.
    let proxy = FaultProxy::start(&weed.endpoint);
    proxy.times(
        10,
        "GET",
        "/blobs/",
        Fault::WithoutHeader("content-length".into()),
    );
    let mut through = access(&weed, &dir.path().join("cid"));
    through.endpoint.url = proxy.url();
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(WS))
        .expect("s3 url")
        .expect("valid");
    let cid = release_console::workspace::Workspace::open_shared_with(url, through)
        .expect("open through the proxy");
    let c = cid.shared().expect("shared");
    refused(
        c.fetch_blob(blob, &into),
        &into,
        "larger than the 10 bytes recorded: cut off after",
    );
    // Other bytes of the same size.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], b"9876543210");
    assert_eq!(status, 200, "{body}");
    refused(
        b.fetch_blob(blob, &into),
        &into,
        &format!(
            "SHA-256 {}: not the blob recorded",
            Sha256::of(b"9876543210")
        ),
    );
    // A file in place with other bytes is not replaced.
    std::fs::write(&into, b"mine").expect("write");
    let e = b.fetch_blob(blob, &into).expect_err("refused");
    assert!(e.to_string().contains("not replaced"), "{e}");
    assert_eq!(std::fs::read(&into).expect("read"), b"mine");
    // Uploading under a name whose object is of another size is refused too.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], b"short");
    assert_eq!(status, 200, "{body}");
    let e = a.put_blob(&file, blob).expect_err("refused");
    assert!(
        e.to_string()
            .contains("an object of 5 bytes under this blob's name"),
        "{e}"
    );
}
