//! Finding a backend's shared library inside a PyPI wheel installed in a venv (ONNX Runtime, LiteRT).
//!
//! Order: the explicit path (a command-line flag), an environment variable naming the file, the venv named by
//! `EDGEBENCH_VENV`, a `.venv` in the current folder or one of its ancestors or the executable's, and the library
//! next to the executable (how a runner is shipped to a board).

use std::path::{Path, PathBuf};

/// What to look for and how to name it in messages.
#[derive(Clone, Copy, Debug)]
pub struct LibrarySearch<'a> {
    /// `ONNX Runtime library`
    pub what: &'a str,
    /// `--ort-lib`
    pub flag: &'a str,
    /// `ORT_DYLIB_PATH`
    pub env: &'a str,
    /// The venv folder the wheel is installed in, `.venv` (the project's; `EDGEBENCH_VENV` names another) or a
    /// venv of its own (`.venv-openvino`).
    pub venv: &'a str,
    /// The folder inside `site-packages`: `onnxruntime/capi`.
    pub wheel_dir: &'a str,
    /// File names that match: a name starting with one of these.
    pub prefixes: &'a [&'a str],
    /// How to get it: `run ci/setup.sh to create .venv with the onnxruntime wheel`.
    pub hint: &'a str,
}

/// Where the library was found and how.
#[derive(Clone, Debug)]
pub struct Located {
    pub path: PathBuf,
    pub source: String,
}

impl LibrarySearch<'_> {
    fn in_dir(&self, dir: &Path) -> Option<PathBuf> {
        let rd = std::fs::read_dir(dir).ok()?;
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.prefixes.iter().any(|pre| n.starts_with(pre))
            })
            .collect();
        // The most specific name first (libonnxruntime.so.1.31.1 over libonnxruntime.so).
        v.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        v.into_iter().next()
    }

    fn in_venv(&self, venv: &Path) -> Option<PathBuf> {
        let rd = std::fs::read_dir(venv.join("lib")).ok()?;
        let mut pys: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        pys.sort();
        pys.iter()
            .find_map(|py| self.in_dir(&py.join("site-packages").join(self.wheel_dir)))
    }

    /// Finds the library, or says every place that was looked at.
    pub fn locate(&self, explicit: Option<&Path>) -> Result<Located, String> {
        let file = |p: PathBuf, source: String, label: String| {
            if p.is_file() {
                Ok(Located { path: p, source })
            } else {
                Err(format!("{label}: no such file"))
            }
        };
        if let Some(p) = explicit {
            return file(
                p.to_path_buf(),
                self.flag.into(),
                format!("{} {}", self.flag, p.display()),
            );
        }
        if let Some(p) = std::env::var_os(self.env) {
            let p = PathBuf::from(p);
            let label = format!("{}={}", self.env, p.display());
            return file(p, self.env.into(), label);
        }
        let mut looked = vec![];
        if let Some(v) = std::env::var_os("EDGEBENCH_VENV").filter(|_| self.venv == ".venv") {
            let v = PathBuf::from(v);
            if let Some(p) = self.in_venv(&v) {
                return Ok(Located {
                    path: p,
                    source: format!("EDGEBENCH_VENV={}", v.display()),
                });
            }
            looked.push(format!("EDGEBENCH_VENV={}", v.display()));
        }
        let mut roots = vec![];
        if let Ok(cwd) = std::env::current_dir() {
            roots.extend(cwd.ancestors().map(Path::to_path_buf));
        }
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        if let Some(d) = &exe_dir {
            roots.extend(d.ancestors().map(Path::to_path_buf));
        }
        for r in &roots {
            let venv = r.join(self.venv);
            if let Some(p) = self.in_venv(&venv) {
                return Ok(Located {
                    path: p,
                    source: format!("project venv {}", venv.display()),
                });
            }
        }
        looked.push(format!(
            "`{}` in the current folder, the executable's folder and their ancestors",
            self.venv
        ));
        if let Some(d) = &exe_dir {
            if let Some(p) = self.in_dir(d) {
                return Ok(Located {
                    path: p,
                    source: "next to the executable".into(),
                });
            }
            looked.push(format!("{}", d.display()));
        }
        Err(format!(
            "{} not found (set {}, pass {}, or {}); looked in: {}",
            self.what,
            self.env,
            self.flag,
            self.hint,
            looked.join("; ")
        ))
    }
}
