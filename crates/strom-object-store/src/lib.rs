//! S3-compatible checkpoint storage for Strom.
//!
//! [`ObjectStoreStorage`] implements Strom's [`CheckpointStorage`] over the
//! [`object_store`] crate, so checkpoints can live in Amazon S3 or any S3-compatible
//! server (MinIO, Ceph RGW, R2, moto, ...). It also accepts `file://` and `memory://` URLs
//! (object_store's `LocalFileSystem` and `InMemory`), mostly for tests.
//!
//! [`storage_from_uri`] picks the storage for a user-given checkpoint location: a plain
//! path or a `file://` URL gives a [`LocalStorage`], `s3://` and `memory://` an
//! [`ObjectStoreStorage`].
//!
//! **TLS and crypto.** S3 requests go over http or https through reqwest with rustls, and
//! are signed (SigV4) by object_store; both use the *ring* crypto library, not aws-lc-rs
//! (whose C build is several times larger: object_store's `aws` feature would pull it).
//! rustls finds its provider as the process default, which [`install_crypto_provider`]
//! sets (from [`ObjectStoreStorage::from_url`]) unless the application installed one.
//! Certificates are checked against the system's roots.
//!
//! object_store is asynchronous while [`CheckpointStorage`] is not: each storage owns a
//! small tokio runtime (one worker thread, which also drives idle HTTP connections) and
//! blocks on every call. The calls are meant for the checkpoint coordinator's thread; if
//! one is made from inside another tokio runtime, it runs on a short-lived helper thread
//! instead of panicking.
//!
//! ```no_run
//! # fn main() -> strom_core::Result<()> {
//! use strom_object_store::{CheckpointStorage, ObjectStoreStorage};
//!
//! // Endpoint, region and credentials come from the usual AWS_* environment variables,
//! // overridden by explicit options.
//! let storage = ObjectStoreStorage::from_url(
//!     "s3://my-bucket/jobs/wordcount",
//!     [("aws_region".to_string(), "eu-central-1".to_string())],
//! )?;
//! storage.put("chk-1/_metadata", b"...")?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::{Path, PathPart};
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload};
use strom_core::{Result, StromError};
pub use strom_runtime::checkpoint::{CheckpointStorage, LocalStorage};
use url::Url;

/// Checkpoint storage in an object store: S3 (`s3://bucket/prefix`), a local directory
/// through object_store (`file:///dir`) or process memory (`memory://`).
///
/// Object paths are the storage's relative paths (`chk-7/_metadata`) under the URL's
/// prefix. `put` is a single PUT request, which S3 makes atomic; `list` follows every
/// continuation token; `delete_prefix` uses bulk deletes where the store has them.
pub struct ObjectStoreStorage {
    store: Arc<dyn ObjectStore>,
    /// The prefix inside the store under which every object lives.
    root: Path,
    /// The URL, credentials removed, for messages.
    url: String,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for ObjectStoreStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreStorage")
            .field("url", &self.url)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn err(msg: impl Into<String>) -> StromError {
    StromError::Checkpoint(msg.into())
}

/// The URL without any user name or password, for messages.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Make *ring* the process's default rustls crypto provider, unless one is installed
/// already (by the application, or an earlier call). The HTTP client of S3 stores uses
/// rustls without a provider of its own (see the crate documentation); call this before
/// building an object_store client yourself for [`ObjectStoreStorage::from_store`].
/// [`ObjectStoreStorage::from_url`] calls it for `s3://` URLs.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only when another thread installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Parse a `/`-separated relative path into path parts, skipping empty segments.
fn relative_parts(rel: &str) -> std::result::Result<Vec<PathPart<'_>>, String> {
    rel.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| PathPart::parse(s).map_err(|e| e.to_string()))
        .collect()
}

impl ObjectStoreStorage {
    /// Storage at `url`:
    ///
    /// * `s3://bucket/prefix` (or `s3a://`): the endpoint, region, credentials and
    ///   `allow_http` come from the AWS environment variables (`AWS_ENDPOINT_URL`,
    ///   `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    ///   `AWS_ALLOW_HTTP`, ... : every `AWS_*` variable object_store knows), then from
    ///   `options`, which win. Option keys are object_store's S3 configuration keys, with
    ///   or without the `aws_` prefix and in any case (`endpoint`, `region`,
    ///   `access_key_id`, `secret_access_key`, `allow_http`,
    ///   `virtual_hosted_style_request`, `timeout`, ...); an unknown key is an error. An
    ///   `http://` endpoint implies `allow_http` unless that is set explicitly.
    /// * `file:///abs/dir`: a local directory (created if missing), written with fsync.
    /// * `memory://` or `memory://prefix`: a new, empty in-memory store private to this
    ///   value (for tests).
    ///
    /// `file://` and `memory://` take no options. Nothing is contacted here: a wrong
    /// endpoint or missing bucket shows in the first call.
    pub fn from_url(
        url: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let parsed = Url::parse(url)
            .map_err(|e| err(format!("invalid checkpoint storage URL '{url}': {e}")))?;
        let shown = redact(&parsed);
        let options: Vec<(String, String)> = options.into_iter().collect();
        let no_options = |scheme: &str| -> Result<()> {
            match options.first() {
                Some((k, _)) => Err(err(format!(
                    "checkpoint storage {shown}: option '{k}' is not supported for {scheme}:// URLs"
                ))),
                None => Ok(()),
            }
        };
        let prefix_of = |path: &str| -> Result<Path> {
            Path::from_url_path(path).map_err(|e| {
                err(format!(
                    "invalid prefix in checkpoint storage URL {shown}: {e}"
                ))
            })
        };

        let (store, root): (Arc<dyn ObjectStore>, Path) = match parsed.scheme() {
            "s3" | "s3a" => {
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(err(format!(
                        "checkpoint storage URL {shown} names no bucket (expected s3://bucket/prefix)"
                    )));
                }
                let allow_http = AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp);
                let mut builder = AmazonS3Builder::from_env();
                let mut allow_http_set = std::env::var_os("AWS_ALLOW_HTTP").is_some();
                for (key, value) in options {
                    let k: AmazonS3ConfigKey = key.to_ascii_lowercase().parse().map_err(|e| {
                        err(format!(
                            "checkpoint storage {shown}: unknown S3 option '{key}': {e}"
                        ))
                    })?;
                    allow_http_set |= k == allow_http;
                    builder = builder.with_config(k, value);
                }
                let plain_http = builder
                    .get_config_value(&AmazonS3ConfigKey::Endpoint)
                    .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
                if plain_http && !allow_http_set {
                    builder = builder.with_config(allow_http, "true");
                }
                install_crypto_provider();
                let s3 = builder.with_url(url).build().map_err(|e| {
                    err(format!("cannot configure checkpoint storage {shown}: {e}"))
                })?;
                (Arc::new(s3), prefix_of(parsed.path())?)
            }
            "file" => {
                no_options("file")?;
                let dir = parsed.to_file_path().map_err(|()| {
                    err(format!(
                        "checkpoint storage URL {shown} is not a local absolute path"
                    ))
                })?;
                std::fs::create_dir_all(&dir).map_err(|e| StromError::io(dir.display(), e))?;
                let fs = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| err(format!("cannot open checkpoint storage {shown}: {e}")))?
                    .with_fsync(true)
                    .with_automatic_cleanup(true);
                (Arc::new(fs), Path::ROOT)
            }
            "memory" => {
                no_options("memory")?;
                // `memory://a/b` parses `a` as a host; treat everything after the scheme as
                // the prefix.
                let rest = url
                    .split_once(':')
                    .map_or("", |(_, r)| r.trim_start_matches('/'));
                (Arc::new(InMemory::new()), prefix_of(rest)?)
            }
            other => {
                return Err(err(format!(
                    "unsupported checkpoint storage URL {shown}: scheme '{other}' \
                     (expected s3://, file:// or memory://)"
                )));
            }
        };
        Self::with_store(store, root, shown)
    }

    /// Storage over an already configured object store, with every object under `prefix`
    /// (`""` for the store's root). `describe` reports `description`.
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        description: impl Into<String>,
    ) -> Result<Self> {
        let description = description.into();
        let parts = relative_parts(prefix)
            .map_err(|e| err(format!("invalid prefix '{prefix}' for {description}: {e}")))?;
        Self::with_store(store, Path::from_iter(parts), description)
    }

    fn with_store(store: Arc<dyn ObjectStore>, root: Path, url: String) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .thread_name("strom-object-store")
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start the I/O runtime for {url}: {e}")))?;
        Ok(ObjectStoreStorage {
            store,
            root,
            url,
            runtime: Some(runtime),
        })
    }

    /// The underlying object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The URL this storage was opened with (credentials removed).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Run `fut` to completion on this storage's runtime, from any thread.
    fn block_on<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self.runtime.as_ref().ok_or_else(|| {
            StromError::Internal(format!("{}: runtime already shut down", self.url))
        })?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Ok(runtime.block_on(fut));
        }
        // Inside some tokio runtime, `block_on` would panic: block a helper thread instead.
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("strom-object-store-call".into())
                .spawn_scoped(s, || runtime.block_on(fut))
                .map_err(|e| StromError::io(format!("helper thread for {}", self.url), e))?
                .join()
                .map_err(|p| {
                    err(format!(
                        "{}: object store call panicked: {}",
                        self.url,
                        strom_core::panic_message(p.as_ref())
                    ))
                })
        })
    }

    /// The object path of a relative storage path.
    fn key(&self, rel: &str) -> Result<Path> {
        let parts = relative_parts(rel)
            .map_err(|e| err(format!("bad checkpoint path '{rel}' in {}: {e}", self.url)))?;
        Ok(parts
            .into_iter()
            .fold(self.root.clone(), |p, part| p.join(part)))
    }

    /// The relative storage path of an object path under the root.
    fn relative(&self, location: &Path) -> Option<String> {
        let parts = location.prefix_match(&self.root)?;
        Some(
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    fn op_err(&self, op: &str, rel: &str, e: object_store::Error) -> StromError {
        match e {
            object_store::Error::NotFound { .. } => {
                err(format!("{op} '{rel}' in {}: object not found", self.url))
            }
            e => err(format!("{op} '{rel}' in {}: {e}", self.url)),
        }
    }

    /// The object paths of everything under `prefix` (a directory-like prefix: `chk-1`
    /// matches `chk-1/x`, not `chk-10/x`).
    async fn list_locations(&self, prefix: &Path) -> object_store::Result<Vec<Path>> {
        let prefix = (!prefix.is_root()).then_some(prefix);
        self.store
            .list(prefix)
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
    }
}

impl Drop for ObjectStoreStorage {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; shutting down in the background
        // is allowed everywhere.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl CheckpointStorage for ObjectStoreStorage {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let key = self.key(path)?;
        let payload = PutPayload::from(bytes.to_vec());
        self.block_on(self.store.put(&key, payload))?
            .map(|_| ())
            .map_err(|e| self.op_err("put", path, e))
    }

    fn get(&self, path: &str) -> Result<Vec<u8>> {
        let key = self.key(path)?;
        let bytes = self.block_on(async {
            let result = self.store.get(&key).await?;
            result.bytes().await
        })?;
        bytes
            .map(|b| b.to_vec())
            .map_err(|e| self.op_err("get", path, e))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let key = self.key(path)?;
        match self.block_on(self.store.head(&key))? {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.op_err("check", path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let key = self.key(prefix)?;
        let locations = self
            .block_on(self.list_locations(&key))?
            .map_err(|e| self.op_err("list", prefix, e))?;
        Ok(locations.iter().filter_map(|l| self.relative(l)).collect())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let key = self.key(prefix)?;
        let result = self.block_on(async {
            let mut locations = self.list_locations(&key).await?;
            // Like a file at the prefix for `LocalStorage`, an object exactly at the prefix
            // goes too.
            if !key.is_root() {
                match self.store.head(&key).await {
                    Ok(meta) => locations.push(meta.location),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let stream = futures_util::stream::iter(locations.into_iter().map(Ok)).boxed();
            let mut results = self.store.delete_stream(stream);
            while let Some(r) = results.next().await {
                match r {
                    // Already gone (or never there) is what we want.
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?;
        result.map_err(|e| self.op_err("delete", prefix, e))
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// The checkpoint storage for a user-given location:
///
/// * a plain path (`/data/checkpoints`, `chk`) or a `file://` URL: [`LocalStorage`];
/// * `s3://bucket/prefix` (or `s3a://`) and `memory://...`: [`ObjectStoreStorage`], with
///   S3 settings from the AWS environment variables (see [`ObjectStoreStorage::from_url`]).
///
/// Any other `scheme://` is an error.
pub fn storage_from_uri(uri: &str) -> Result<Arc<dyn CheckpointStorage>> {
    let scheme = uri
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .or_else(|| uri.starts_with("memory:").then(|| "memory".to_string()));
    match scheme.as_deref() {
        None => Ok(Arc::new(LocalStorage::new(uri)?)),
        Some("file") => {
            let url = Url::parse(uri)
                .map_err(|e| err(format!("invalid checkpoint storage URL '{uri}': {e}")))?;
            let dir = url.to_file_path().map_err(|()| {
                err(format!(
                    "checkpoint storage URL '{uri}' is not a local absolute path"
                ))
            })?;
            Ok(Arc::new(LocalStorage::new(dir)?))
        }
        Some("s3" | "s3a" | "memory") => Ok(Arc::new(ObjectStoreStorage::from_url(
            uri,
            std::iter::empty(),
        )?)),
        Some(other) => Err(err(format!(
            "unsupported checkpoint storage '{uri}': scheme '{other}' \
             (expected a path, file://, s3:// or memory://)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn memory_round_trip() {
        let s = ObjectStoreStorage::from_url("memory://", []).unwrap();
        assert_eq!(s.describe(), "memory://");
        s.put("chk-1/_metadata", b"m").unwrap();
        s.put("chk-1/op-0.state", b"abc").unwrap();
        s.put("chk-10/op-0.state", b"x").unwrap();
        s.put("chk-2/op-0.state", b"d").unwrap();
        assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"abc");
        assert!(s.exists("chk-1/_metadata").unwrap());
        assert!(!s.exists("chk-1/nope").unwrap());
        assert_eq!(
            sorted(s.list("").unwrap()),
            vec![
                "chk-1/_metadata",
                "chk-1/op-0.state",
                "chk-10/op-0.state",
                "chk-2/op-0.state"
            ]
        );
        assert_eq!(
            sorted(s.list("chk-1").unwrap()),
            vec!["chk-1/_metadata", "chk-1/op-0.state"]
        );
        // Overwrite.
        s.put("chk-1/op-0.state", b"new").unwrap();
        assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"new");
        s.delete_prefix("chk-1").unwrap();
        assert_eq!(
            sorted(s.list("").unwrap()),
            vec!["chk-10/op-0.state", "chk-2/op-0.state"]
        );
        let e = s.get("chk-1/_metadata").unwrap_err();
        assert!(matches!(e, StromError::Checkpoint(_)), "{e}");
        assert!(e.to_string().contains("chk-1/_metadata"), "{e}");
        assert!(e.to_string().contains("memory://"), "{e}");
        s.delete_prefix("chk-9").unwrap();
        s.delete_prefix("chk-2/op-0.state").unwrap();
        assert_eq!(s.list("").unwrap(), vec!["chk-10/op-0.state"]);
        assert!(s.put("a/../b", b"").is_err());
    }

    #[test]
    fn memory_prefix_is_hidden() {
        let s = ObjectStoreStorage::from_url("memory://jobs/wc/", []).unwrap();
        s.put("chk-1/_metadata", b"m").unwrap();
        assert_eq!(s.list("").unwrap(), vec!["chk-1/_metadata"]);
        let located: Vec<String> = s
            .block_on(
                s.store
                    .list(None)
                    .map_ok(|m| m.location.to_string())
                    .try_collect(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(located, vec!["jobs/wc/chk-1/_metadata"]);
    }

    #[test]
    fn works_inside_a_tokio_runtime() {
        let s = ObjectStoreStorage::from_url("memory://", []).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            s.put("a/b", b"1").unwrap();
            assert_eq!(s.get("a/b").unwrap(), b"1");
            // Dropped inside the runtime: must not panic.
            drop(s);
        });
    }

    #[test]
    fn file_url_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(dir.path().join("cp")).unwrap();
        let s = ObjectStoreStorage::from_url(url.as_str(), []).unwrap();
        s.put("chk-1/_metadata", b"m").unwrap();
        s.put("chk-1/op-0.state", b"abc").unwrap();
        assert!(dir.path().join("cp/chk-1/_metadata").is_file());
        assert_eq!(
            sorted(s.list("").unwrap()),
            vec!["chk-1/_metadata", "chk-1/op-0.state"]
        );
        assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"abc");
        s.delete_prefix("chk-1").unwrap();
        assert!(s.list("").unwrap().is_empty());
        assert!(!s.exists("chk-1/_metadata").unwrap());
        s.delete_prefix("nothing").unwrap();
    }

    #[test]
    fn bad_urls_and_options() {
        assert!(ObjectStoreStorage::from_url("gs://b/p", []).is_err());
        assert!(ObjectStoreStorage::from_url("not a url", []).is_err());
        assert!(ObjectStoreStorage::from_url("memory://", [("x".into(), "y".into())]).is_err());
        let e =
            ObjectStoreStorage::from_url("s3://bucket/p", [("no_such_option".into(), "1".into())])
                .unwrap_err();
        assert!(e.to_string().contains("no_such_option"), "{e}");
        assert!(storage_from_uri("gs://b/p").is_err());
    }

    #[test]
    fn s3_url_configures_without_network() {
        let s = ObjectStoreStorage::from_url(
            "s3://bucket/some/prefix",
            [
                ("endpoint".into(), "http://127.0.0.1:1".into()),
                ("region".into(), "us-east-1".into()),
                ("access_key_id".into(), "k".into()),
                ("secret_access_key".into(), "s".into()),
            ],
        )
        .unwrap();
        assert_eq!(s.describe(), "s3://bucket/some/prefix");
        assert_eq!(s.root.as_ref(), "some/prefix");
    }

    #[test]
    fn storage_from_uri_picks_the_backend() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let s = storage_from_uri(plain.to_str().unwrap()).unwrap();
        s.put("x/y", b"1").unwrap();
        assert!(plain.join("x/y").is_file());
        let url = Url::from_directory_path(dir.path().join("viaurl")).unwrap();
        let s = storage_from_uri(url.as_str()).unwrap();
        s.put("x/y", b"2").unwrap();
        assert!(dir.path().join("viaurl/x/y").is_file());
        let m = storage_from_uri("memory://").unwrap();
        m.put("x/y", b"3").unwrap();
        assert_eq!(m.get("x/y").unwrap(), b"3");
        assert_eq!(m.describe(), "memory://");
    }
}
