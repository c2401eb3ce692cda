//! `targets.toml`: the devices a plan runs on. Unknown keys are warnings; a bad value is an error naming the file,
//! line and key.

use crate::energy::PowerModel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How cells reach the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// This machine.
    Local,
    /// The aarch64 runner under qemu-user (correctness only; timings mean nothing about the board).
    Qemu,
    /// A real board over ssh.
    Ssh,
}

/// Which energy sensor to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorChoice {
    /// RAPL, else hwmon power inputs, else the power model.
    #[default]
    Auto,
    /// Always the power model.
    None,
}

/// One device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Rust target triple of the runner binary.
    pub triple: String,
    #[serde(default)]
    pub description: String,
    pub cores: usize,
    /// Backends to use there, in order.
    pub backends: Vec<String>,
    pub runner: Runner,
    pub power: PowerModel,
    #[serde(default)]
    pub sensor: SensorChoice,
    /// Peak single-precision GFLOP/s of the compute the backends use (for the roofline).
    pub peak_gflops: f64,
    /// Peak memory bandwidth, GB/s.
    pub mem_bandwidth_gbs: f64,
    /// Peak GFLOP/s of the GPU, for GPU backends (wonnx); CPU backends use `peak_gflops`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_peak_gflops: Option<f64>,
    /// Where the figures come from.
    #[serde(default)]
    pub source: String,
    /// For `runner = "ssh"`: how to reach the board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Ssh>,
    /// Set when `peak_gflops` and `mem_bandwidth_gbs` were replaced by figures measured where the run happens
    /// (how); `None` means they are the file's nominal (datasheet or arithmetic) figures. Never read from the file.
    #[serde(skip)]
    pub measured_roofs: Option<String>,
}

/// How to reach a board over ssh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    pub host: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Private key file (`~` is expanded); else ssh's own configuration decides.
    #[serde(default)]
    pub key: Option<String>,
    /// Folder on the board where runs are staged (created, and removed after the run).
    #[serde(default = "default_remote_dir")]
    pub remote_dir: String,
    /// Extra `-o` options for ssh and scp (e.g. `UserKnownHostsFile=...`).
    #[serde(default)]
    pub options: Vec<String>,
    /// Environment of the runner on the board (e.g. `EDGEBENCH_ORT_GPU_LIB` = JetPack's ONNX Runtime on a Jetson),
    /// set with `env` in front of every remote command.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

fn default_port() -> u16 {
    22
}

fn default_remote_dir() -> String {
    "/tmp/edgebench".into()
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    pub target: BTreeMap<String, Target>,
}

/// A targets file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct TargetsError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

const KNOWN: &[&str] = &[
    "triple",
    "description",
    "cores",
    "backends",
    "runner",
    "power",
    "sensor",
    "peak_gflops",
    "mem_bandwidth_gbs",
    "gpu_peak_gflops",
    "source",
    "ssh",
];
const KNOWN_POWER: &[&str] = &["idle_watts", "active_watts_per_core"];
const BACKENDS: &[&str] = &[
    "tract",
    "ort",
    "ort-openvino",
    "ort-cuda",
    "ort-tensorrt",
    "wonnx",
    "litert",
    "litert-gpu",
    "tract-tflite",
];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line of `key =` inside `[target.NAME]` (or its `power` sub-table), for messages.
fn key_line(text: &str, name: &str, key: &str) -> usize {
    let mut in_section = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_section = t == format!("[target.{name}]") || t == format!("[target.{name}.power]");
            continue;
        }
        if in_section && t.split('=').next().is_some_and(|k| k.trim() == key) {
            return i + 1;
        }
    }
    1
}

impl Targets {
    /// Parses a targets file; returns it with the warnings (unknown keys).
    pub fn parse(text: &str, file: &str) -> Result<(Targets, Vec<String>), TargetsError> {
        let err = |line, message: String| TargetsError {
            file: file.into(),
            line,
            message,
        };
        let raw: toml::Table = toml::from_str(text).map_err(|e| {
            err(
                e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
                e.message().trim().to_string(),
            )
        })?;
        let mut warnings = vec![];
        for (k, _) in raw.iter().filter(|(k, _)| *k != "target") {
            warnings.push(format!(
                "{file}:{}: unknown top-level key `{k}` (ignored)",
                key_line(text, "", k)
            ));
        }
        let Some(toml::Value::Table(targets)) = raw.get("target") else {
            return Err(err(1, "no [target.NAME] tables".into()));
        };
        let mut out = BTreeMap::new();
        for (name, v) in targets {
            let toml::Value::Table(t) = v else {
                return Err(err(1, format!("`target.{name}` is not a table")));
            };
            let mut clean = t.clone();
            for k in t.keys() {
                if !KNOWN.contains(&k.as_str()) {
                    warnings.push(format!(
                        "{file}:{}: unknown key `{k}` in [target.{name}] (ignored)",
                        key_line(text, name, k)
                    ));
                    clean.remove(k);
                }
            }
            if let Some(toml::Value::Table(p)) = clean.get_mut("power") {
                for k in p.keys().cloned().collect::<Vec<_>>() {
                    if !KNOWN_POWER.contains(&k.as_str()) {
                        warnings.push(format!(
                            "{file}:{}: unknown key `{k}` in [target.{name}.power] (ignored)",
                            key_line(text, name, &k)
                        ));
                        p.remove(&k);
                    }
                }
            }
            let target: Target = serde_path_to_error::deserialize(toml::Value::Table(clean))
                .map_err(|e| {
                    let path = e.path().to_string();
                    let key = path.rsplit('.').next().unwrap_or("").to_string();
                    let msg = e.inner().message().trim().to_string();
                    if key.is_empty() || key == "?" {
                        // A missing field: serde names it in the message.
                        let missing = KNOWN
                            .iter()
                            .chain(KNOWN_POWER)
                            .find(|k| msg.contains(&format!("`{k}`")))
                            .copied()
                            .unwrap_or("");
                        err(
                            key_line(text, name, "triple"),
                            format!(
                                "[target.{name}]: {msg}{}",
                                if missing.is_empty() {
                                    String::new()
                                } else {
                                    format!(" (`{missing}`)")
                                }
                            ),
                        )
                    } else {
                        err(
                            key_line(text, name, &key),
                            format!("[target.{name}] `{path}`: {msg}"),
                        )
                    }
                })?;
            let check = |ok: bool, key: &str, why: String| {
                if ok {
                    Ok(())
                } else {
                    Err(err(
                        key_line(text, name, key),
                        format!("[target.{name}] `{key}`: {why}"),
                    ))
                }
            };
            check(
                target.cores >= 1,
                "cores",
                format!("must be at least 1, got {}", target.cores),
            )?;
            check(
                target.power.idle_watts >= 0.0,
                "idle_watts",
                "must not be negative".into(),
            )?;
            check(
                target.power.active_watts_per_core >= 0.0,
                "active_watts_per_core",
                "must not be negative".into(),
            )?;
            check(
                target.peak_gflops > 0.0,
                "peak_gflops",
                "must be positive".into(),
            )?;
            check(
                target.mem_bandwidth_gbs > 0.0,
                "mem_bandwidth_gbs",
                "must be positive".into(),
            )?;
            for b in &target.backends {
                check(
                    BACKENDS.contains(&b.as_str()),
                    "backends",
                    format!("unknown backend `{b}` (known: {})", BACKENDS.join(", ")),
                )?;
            }
            out.insert(name.clone(), target);
        }
        Ok((Targets { target: out }, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[target.host]
triple = "x86_64-unknown-linux-gnu"
cores = 2
backends = ["tract", "ort"]
runner = "local"
power = { idle_watts = 10.0, active_watts_per_core = 5.0 }
peak_gflops = 100.0
mem_bandwidth_gbs = 20.0
"#;

    #[test]
    fn parses_and_warns_on_unknown_keys() {
        let (t, w) = Targets::parse(GOOD, "t.toml").unwrap();
        assert_eq!(t.target["host"].cores, 2);
        assert!(w.is_empty());
        let text = GOOD.replace("cores = 2", "cores = 2\nfrobnicate = true");
        let (_, w) = Targets::parse(&text, "t.toml").unwrap();
        assert_eq!(
            w,
            vec!["t.toml:5: unknown key `frobnicate` in [target.host] (ignored)".to_string()]
        );
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let cases = [
            (
                GOOD.replace("cores = 2", "cores = \"two\""),
                "t.toml:4:",
                "cores",
            ),
            (
                GOOD.replace("cores = 2", "cores = 0"),
                "t.toml:4:",
                "at least 1",
            ),
            (
                GOOD.replace("runner = \"local\"", "runner = \"carrier-pigeon\""),
                "t.toml:6:",
                "runner",
            ),
            (
                GOOD.replace("\"ort\"", "\"tensorrt\""),
                "t.toml:5:",
                "tensorrt",
            ),
            (
                GOOD.replace("peak_gflops = 100.0\n", ""),
                "t.toml:",
                "peak_gflops",
            ),
            ("[target.x\n".to_string(), "t.toml:1:", ""),
        ];
        for (text, at, needle) in cases {
            let e = Targets::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(e.starts_with(at) && e.contains(needle), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}

#[cfg(test)]
mod committed {
    #[test]
    fn the_committed_targets_file_parses_without_warnings() {
        let text = include_str!("../../../targets.toml");
        let (t, w) = super::Targets::parse(text, "targets.toml").unwrap();
        assert!(w.is_empty(), "{w:?}");
        for name in [
            "host",
            "pi4",
            "pi5",
            "jetson-orin-nano",
            "gpu-host",
            "x86-gpu",
        ] {
            assert!(t.target.contains_key(name), "{name}");
        }
    }
}

#[cfg(test)]
mod gpu_targets {
    #[test]
    fn the_gpu_targets_name_the_provider_backends_and_the_jetson_its_library() {
        let (t, _) =
            super::Targets::parse(include_str!("../../../targets.toml"), "targets.toml").unwrap();
        for name in ["jetson-orin-nano", "x86-gpu"] {
            let x = &t.target[name];
            assert!(x.backends.iter().any(|b| b == "ort-cuda"), "{name}");
            assert!(x.backends.iter().any(|b| b == "ort-tensorrt"), "{name}");
            assert!(
                x.gpu_peak_gflops.is_some() && x.source.starts_with("nominal"),
                "{name}"
            );
        }
        let ssh = t.target["jetson-orin-nano"].ssh.as_ref().unwrap();
        assert!(ssh.env.contains_key("EDGEBENCH_ORT_GPU_LIB"));
    }
}
