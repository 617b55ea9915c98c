//! The `CheckpointStorage` contract, run against `memory://`, a local directory and (when
//! `STROM_S3_TEST_ENDPOINT` is set, as `scripts/test.sh` does) a real S3-compatible server.
//! Without it the S3 tests skip, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use strom_object_store::{CheckpointStorage, ObjectStoreStorage, storage_from_uri};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Put/get/exists/list/delete_prefix/overwrite, with `many` objects in one prefix so that
/// listing and bulk deletion need more than one page (S3 pages hold 1000 keys).
fn contract(s: &dyn CheckpointStorage, many: usize) {
    assert!(
        s.list("").unwrap().is_empty(),
        "{} is not empty",
        s.describe()
    );
    assert!(!s.exists("chk-1/_metadata").unwrap());
    assert!(s.get("chk-1/_metadata").is_err());

    s.put("chk-1/op-0.state", b"abc").unwrap();
    s.put("chk-1/nested/deeper/op-1.state", b"").unwrap();
    s.put("chk-1/_metadata", b"meta").unwrap();
    s.put("chk-10/op-0.state", b"ten").unwrap();
    s.put("chk-2/op-0.state", b"two").unwrap();
    assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"abc");
    assert_eq!(s.get("chk-1/nested/deeper/op-1.state").unwrap(), b"");
    assert!(s.exists("chk-1/_metadata").unwrap());
    assert!(!s.exists("chk-1/missing").unwrap());
    assert!(!s.exists("chk-1").unwrap(), "a prefix is not an object");

    // Leading, trailing and doubled slashes do not matter.
    assert_eq!(s.get("/chk-1//op-0.state").unwrap(), b"abc");

    assert_eq!(
        sorted(s.list("").unwrap()),
        vec![
            "chk-1/_metadata",
            "chk-1/nested/deeper/op-1.state",
            "chk-1/op-0.state",
            "chk-10/op-0.state",
            "chk-2/op-0.state",
        ]
    );
    // Prefixes are whole path segments: `chk-1` does not match `chk-10`.
    assert_eq!(
        sorted(s.list("chk-1").unwrap()),
        vec![
            "chk-1/_metadata",
            "chk-1/nested/deeper/op-1.state",
            "chk-1/op-0.state"
        ]
    );
    assert_eq!(
        s.list("chk-1/nested").unwrap(),
        vec!["chk-1/nested/deeper/op-1.state"]
    );
    assert!(s.list("chk-3").unwrap().is_empty());

    // Overwrite replaces the whole object, longer or shorter.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    s.put("chk-1/op-0.state", &big).unwrap();
    assert_eq!(s.get("chk-1/op-0.state").unwrap(), big);
    s.put("chk-1/op-0.state", b"short").unwrap();
    assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"short");

    // delete_prefix removes everything under it and nothing else.
    s.delete_prefix("chk-1").unwrap();
    assert_eq!(
        sorted(s.list("").unwrap()),
        vec!["chk-10/op-0.state", "chk-2/op-0.state"]
    );
    assert!(!s.exists("chk-1/_metadata").unwrap());
    assert!(s.get("chk-1/op-0.state").is_err());
    s.delete_prefix("chk-1").unwrap();
    s.delete_prefix("chk-404").unwrap();

    // Many objects: full pagination of list and of delete.
    let names: Vec<String> = (0..many)
        .map(|i| format!("chk-3/op-{i:05}.state"))
        .collect();
    std::thread::scope(|scope| {
        for chunk in names.chunks(many.div_ceil(8).max(1)) {
            scope.spawn(move || {
                for n in chunk {
                    s.put(n, n.as_bytes()).unwrap();
                }
            });
        }
    });
    let listed = sorted(s.list("chk-3").unwrap());
    assert_eq!(listed.len(), many);
    assert_eq!(listed, names);
    assert_eq!(s.list("").unwrap().len(), many + 2);
    assert_eq!(s.get(&names[many - 1]).unwrap(), names[many - 1].as_bytes());
    s.delete_prefix("chk-3").unwrap();
    assert!(s.list("chk-3").unwrap().is_empty());

    // Everything.
    s.delete_prefix("").unwrap();
    assert!(s.list("").unwrap().is_empty());
}

#[test]
fn memory_contract() {
    let s = ObjectStoreStorage::from_url("memory://some/prefix", []).unwrap();
    contract(&s, 1500);
}

#[test]
fn file_url_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/cp", dir.path().display());
    let s = ObjectStoreStorage::from_url(&url, []).unwrap();
    contract(&s, 200);
}

#[test]
fn local_storage_has_the_same_contract() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage_from_uri(dir.path().join("cp").to_str().unwrap()).unwrap();
    contract(s.as_ref(), 200);
}

/// Create `bucket` with a plain, unsigned `PUT /bucket` (moto and MinIO-in-test-mode
/// accept it).
fn create_bucket(endpoint: &str, bucket: &str) {
    let hostport = endpoint
        .strip_prefix("http://")
        .expect("STROM_S3_TEST_ENDPOINT must be http://host:port")
        .trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(hostport).unwrap();
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.contains(" 200"),
        "creating bucket {bucket} at {endpoint}: {response}"
    );
}

/// The S3 server to test against, from `STROM_S3_TEST_ENDPOINT`; `None` means skip `test`.
/// Under CI (`CI=true` or `CI=1`) a missing endpoint is a failure instead: CI must not
/// pass by skipping the S3 tests.
fn s3_endpoint(test: &str) -> Option<String> {
    if let Some(endpoint) = std::env::var("STROM_S3_TEST_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        return Some(endpoint);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    assert!(
        !ci,
        "STROM_S3_TEST_ENDPOINT is not set and CI=true: {test} must not be skipped in CI. \
         Run the tests with `scripts/test.sh` (it starts an S3 test server) or set \
         STROM_S3_TEST_ENDPOINT=http://host:port"
    );
    eprintln!(
        "STROM_S3_TEST_ENDPOINT is not set: skipping {test} \
         (`scripts/test.sh` starts an S3 test server and sets it)"
    );
    None
}

fn s3_options(endpoint: &str) -> Vec<(String, String)> {
    [
        ("endpoint", endpoint),
        ("region", "us-east-1"),
        ("access_key_id", "testing"),
        ("secret_access_key", "testing"),
        ("allow_http", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn s3_contract() {
    let Some(endpoint) = s3_endpoint("s3_contract") else {
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!("strom-test-{}-{nanos}", std::process::id());
    create_bucket(&endpoint, &bucket);

    let url = format!("s3://{bucket}/jobs/wordcount");
    let s = ObjectStoreStorage::from_url(&url, s3_options(&endpoint)).unwrap();
    assert_eq!(s.describe(), url);

    // A neighbour prefix in the same bucket, which the storage must neither see nor delete.
    let other =
        ObjectStoreStorage::from_url(&format!("s3://{bucket}/jobs/other"), s3_options(&endpoint))
            .unwrap();
    other.put("chk-1/_metadata", b"other").unwrap();

    contract(&s, 1100);

    assert_eq!(other.list("").unwrap(), vec!["chk-1/_metadata"]);
    assert_eq!(other.get("chk-1/_metadata").unwrap(), b"other");

    // A missing bucket is an error that names the URL and the path.
    let missing =
        ObjectStoreStorage::from_url(&format!("s3://{bucket}-missing/p"), s3_options(&endpoint))
            .unwrap();
    let e = missing.put("chk-1/_metadata", b"x").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&format!("{bucket}-missing")), "{msg}");
    assert!(msg.contains("chk-1/_metadata"), "{msg}");
}

/// The usual AWS environment variables configure `s3://` storage. Tests cannot set
/// environment variables safely, so this runs `s3_env_child` in a child process of this
/// test binary with them set: once with `AWS_ALLOW_HTTP`, once relying on the `http://`
/// endpoint to allow plain HTTP.
#[test]
fn s3_configured_from_environment() {
    let Some(endpoint) = s3_endpoint("s3_configured_from_environment") else {
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!("strom-env-{}-{nanos}", std::process::id());
    create_bucket(&endpoint, &bucket);
    for allow_http in [Some("true"), None] {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", "s3_env_child", "--nocapture", "--test-threads=1"]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                child.env_remove(k);
            }
        }
        child
            .env("STROM_S3_TEST_CHILD", &bucket)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        if let Some(v) = allow_http {
            child.env("AWS_ALLOW_HTTP", v);
        }
        let out = child.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "child failed: {text}");
        assert!(
            text.contains("s3_env_child ... ok"),
            "child did not run: {text}"
        );
    }
}

/// Runs only as the child of `s3_configured_from_environment`.
#[test]
fn s3_env_child() {
    let Ok(bucket) = std::env::var("STROM_S3_TEST_CHILD") else {
        return;
    };
    let s = storage_from_uri(&format!("s3://{bucket}/from-env")).unwrap();
    s.put("chk-1/_metadata", b"env").unwrap();
    assert_eq!(s.get("chk-1/_metadata").unwrap(), b"env");
    assert_eq!(s.list("").unwrap(), vec!["chk-1/_metadata"]);
    s.delete_prefix("").unwrap();
    assert!(s.list("").unwrap().is_empty());
}
