//! The machine a run happens on, and the three facts of every backend (compiled in, available here, version).

use crate::Error;
use edgebench_backend_api::{Availability, Backend, Entry, Registry, RegistryError};
use edgebench_report::{BackendFacts, Machine};
use serde::Serialize;

/// The machine, from sysinfo.
#[derive(Serialize, Debug, Clone)]
pub struct Host {
    pub cpu: String,
    pub logical_cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
}

/// The three facts of every backend: compiled in, available here (or why not), version and details.
pub fn backend_facts(registry: &Registry) -> Vec<BackendFacts> {
    registry
        .entries()
        .iter()
        .map(|e| {
            let (compiled_in, availability) = match e {
                Entry::NotCompiled { reason, .. } => (
                    false,
                    Availability::Unavailable {
                        reason: reason.clone(),
                    },
                ),
                Entry::Compiled(b) => (true, b.availability()),
            };
            let (available, version, reason, details) = match availability {
                Availability::Available { version, details } => {
                    (true, Some(version), None, details)
                }
                Availability::Unavailable { reason } => (false, None, Some(reason), vec![]),
            };
            BackendFacts {
                name: e.name().to_string(),
                compiled_in,
                available,
                version,
                reason,
                details,
                device: match e {
                    Entry::Compiled(b) => Some(b.device().as_str().to_string()),
                    Entry::NotCompiled { .. } => None,
                },
                formats: match e {
                    Entry::Compiled(b) => {
                        b.formats().iter().map(|f| f.as_str().to_string()).collect()
                    }
                    Entry::NotCompiled { .. } => vec![],
                },
            }
        })
        .collect()
}

/// This machine's CPU, cores, memory, OS, kernel and architecture.
pub fn host() -> Host {
    use sysinfo::System;
    let mut s = System::new();
    s.refresh_cpu_all();
    s.refresh_memory();
    Host {
        cpu: s
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        logical_cores: s.cpus().len(),
        physical_cores: System::physical_core_count(),
        memory_bytes: s.total_memory(),
        os: System::long_os_version().unwrap_or_else(|| "unknown".into()),
        kernel: System::kernel_version().unwrap_or_else(|| "unknown".into()),
        arch: System::cpu_arch(),
    }
}

/// The machine record of results.json.
pub fn record(registry: &Registry, emulated: bool) -> Machine {
    let h = host();
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .ok()
        .map(|s| s.trim().to_string());
    Machine {
        cpu: h.cpu,
        logical_cores: h.logical_cores,
        physical_cores: h.physical_cores,
        memory_bytes: h.memory_bytes,
        os: h.os,
        kernel: h.kernel,
        arch: h.arch,
        governor,
        emulated,
        backends: backend_facts(registry),
    }
}

/// Resolves a backend name and checks that it is available here: unknown is a usage error, not compiled in or not
/// available here is `Unavailable` with the reason.
/// The reference backend's name: ONNX Runtime when it is available here, else tract when it is.
pub fn reference(registry: &Registry) -> Option<&'static str> {
    ["ort", "tract"].into_iter().find(|b| {
        registry
            .get(b)
            .is_ok_and(|x| x.availability().is_available())
    })
}

/// Every backend compiled in and available here that is a runtime of its own (split backends, named `a+b`, are
/// made of two of them): the default backend list of `check` and `profile`.
pub fn available_single(registry: &Registry) -> Vec<String> {
    registry
        .entries()
        .iter()
        .filter_map(|e| match e {
            edgebench_backend_api::Entry::Compiled(b)
                if !b.name().contains('+') && b.availability().is_available() =>
            {
                Some(b.name().to_string())
            }
            _ => None,
        })
        .collect()
}

pub fn available<'r>(
    registry: &'r Registry,
    name: &str,
) -> Result<(&'r dyn Backend, String), Error> {
    let b = registry.get(name).map_err(|e| match e {
        RegistryError::Unknown { .. } => Error::Usage(e.to_string()),
        RegistryError::NotCompiled { .. } => Error::Unavailable(e.to_string()),
    })?;
    match b.availability() {
        Availability::Available { version, .. } => Ok((b, version)),
        Availability::Unavailable { reason } => Err(Error::Unavailable(format!(
            "backend `{}` is not available: {reason}",
            b.name()
        ))),
    }
}

/// This machine's measured roofs (FMA kernel and triad on every logical core), cached per machine in
/// `<cache>/roofs/<key>.json` where the key hashes CPU, cores, memory, architecture and kernel: a different machine
/// (or VM size) measures again. `refresh` measures even when cached. A cache that cannot be written is only a
/// warning: the figures are still returned.
pub fn host_roofs(
    cache: &std::path::Path,
    refresh: bool,
) -> (edgebench_measure::roofs::Roofs, bool) {
    let h = host();
    let key = format!(
        "{:016x}",
        edgebench_report::fnv1a(
            format!(
                // v3: roofs cached before may come from an AVX-512 kernel that was a libm call per lane.
                "v3|{}|{}|{}|{}|{}",
                h.cpu, h.logical_cores, h.memory_bytes, h.arch, h.kernel
            )
            .as_bytes()
        )
    );
    let path = cache.join("roofs").join(format!("{key}.json"));
    if !refresh
        && let Some(r) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    {
        return (r, true);
    }
    let r = edgebench_measure::roofs::measure(h.logical_cores);
    let saved = std::fs::create_dir_all(path.parent().unwrap_or(cache))
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::to_string_pretty(&r).map_err(|e| e.to_string()))
        .and_then(|t| {
            edgebench_report::write_atomic(&path, t.as_bytes()).map_err(|e| e.to_string())
        });
    if let Err(e) = saved {
        tracing::warn!("{}: cannot cache the measured roofs: {e}", path.display());
    }
    (r, false)
}
