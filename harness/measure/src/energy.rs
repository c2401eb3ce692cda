//! Energy per inference: from a real sensor when there is one, else from the target's power model. Always labelled.
//!
//! Sensors: Intel/AMD RAPL (`/sys/class/powercap/*/energy_uj`, a wrapping counter in microjoules), and hwmon
//! `power*_input` (instantaneous microwatts, e.g. Jetson INA3221 rails), which is sampled before and after and
//! averaged. The sysfs root is a parameter so tests can use fake trees.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How an energy figure was obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// Read from hardware counters.
    Measured { sensor: String },
    /// Computed from a power model and CPU time.
    Estimated { model: String },
}

/// Energy of a measured interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Energy {
    pub joules: f64,
    pub average_watts: f64,
    pub joules_per_inference: f64,
    pub source: Source,
}

/// One RAPL zone: a wrapping energy counter.
#[derive(Clone, Debug)]
pub struct RaplZone {
    pub name: String,
    pub energy_uj: PathBuf,
    pub max_range_uj: u64,
}

/// The top-level RAPL zones (packages) under `root` (normally `/sys/class/powercap`).
pub fn rapl_zones(root: &Path) -> Vec<RaplZone> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return vec![];
    };
    let mut zones: Vec<RaplZone> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // intel-rapl:0 is a package; intel-rapl:0:0 is a sub-zone already counted in it.
            n.starts_with("intel-rapl:")
                && n.matches(':').count() == 1
                && p.join("energy_uj").is_file()
        })
        .map(|p| RaplZone {
            name: std::fs::read_to_string(p.join("name"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            max_range_uj: read_u64(&p.join("max_energy_range_uj")).unwrap_or(u64::MAX),
            energy_uj: p.join("energy_uj"),
        })
        .collect();
    zones.sort_by(|a, b| a.energy_uj.cmp(&b.energy_uj));
    zones
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Counter readings of every zone.
pub fn read_rapl(zones: &[RaplZone]) -> Option<Vec<u64>> {
    zones.iter().map(|z| read_u64(&z.energy_uj)).collect()
}

/// Microjoules between two readings of a counter that wraps at `max_range_uj`.
pub fn counter_delta(before: u64, after: u64, max_range_uj: u64) -> u64 {
    if after >= before {
        after - before
    } else {
        max_range_uj - before + after
    }
}

/// Joules between two readings of all zones.
pub fn rapl_joules(zones: &[RaplZone], before: &[u64], after: &[u64]) -> f64 {
    zones
        .iter()
        .zip(before.iter().zip(after))
        .map(|(z, (b, a))| counter_delta(*b, *a, z.max_range_uj) as f64 / 1e6)
        .sum()
}

/// hwmon power inputs (`power*_input`, microwatts) under `root` (normally `/sys/class/hwmon`).
pub fn hwmon_power_inputs(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return vec![];
    };
    let mut out = vec![];
    for hw in rd.flatten().map(|e| e.path()) {
        let name = std::fs::read_to_string(hw.join("name"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let Ok(files) = std::fs::read_dir(&hw) else {
            continue;
        };
        for f in files.flatten().map(|e| e.path()) {
            let n = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if n.starts_with("power") && n.ends_with("_input") {
                out.push((format!("{name}/{n}"), f));
            }
        }
    }
    out.sort();
    out
}

/// Total watts of hwmon power inputs now.
pub fn hwmon_watts(inputs: &[(String, PathBuf)]) -> Option<f64> {
    let mut w = 0.0;
    for (_, p) in inputs {
        w += read_u64(p)? as f64 / 1e6;
    }
    Some(w)
}

/// A power model: idle watts plus watts per fully busy core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerModel {
    pub idle_watts: f64,
    pub active_watts_per_core: f64,
}

impl PowerModel {
    /// Energy over `wall_s` seconds during which the process used `cpu_s` seconds of CPU time.
    pub fn estimate(&self, wall_s: f64, cpu_s: f64, inferences: usize, target: &str) -> Energy {
        let joules = self.idle_watts * wall_s + self.active_watts_per_core * cpu_s;
        Energy {
            joules,
            average_watts: if wall_s > 0.0 {
                joules / wall_s
            } else {
                f64::NAN
            },
            joules_per_inference: joules / inferences.max(1) as f64,
            source: Source::Estimated {
                model: format!(
                    "{target}: {} W idle + {} W per busy core x CPU time (getrusage)",
                    self.idle_watts, self.active_watts_per_core
                ),
            },
        }
    }
}

/// Which sensor a measurement will use, found under the given sysfs roots.
#[derive(Clone, Debug)]
pub enum Sensor {
    Rapl(Vec<RaplZone>),
    Hwmon(Vec<(String, PathBuf)>),
}

impl Sensor {
    /// RAPL if readable, else hwmon power inputs, else none.
    pub fn find(powercap: &Path, hwmon: &Path) -> Option<Sensor> {
        let z = rapl_zones(powercap);
        if !z.is_empty() && read_rapl(&z).is_some() {
            return Some(Sensor::Rapl(z));
        }
        let h = hwmon_power_inputs(hwmon);
        if !h.is_empty() && hwmon_watts(&h).is_some() {
            return Some(Sensor::Hwmon(h));
        }
        None
    }

    pub fn describe(&self) -> String {
        match self {
            Sensor::Rapl(z) => format!(
                "RAPL {}",
                z.iter()
                    .map(|z| z.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            Sensor::Hwmon(h) => format!(
                "hwmon {}",
                h.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
        }
    }

    /// Starts a measurement.
    pub fn start(&self) -> Option<Reading> {
        Some(match self {
            Sensor::Rapl(z) => Reading::Rapl(read_rapl(z)?),
            Sensor::Hwmon(h) => Reading::Watts(hwmon_watts(h)?),
        })
    }

    /// Ends a measurement started with `start`.
    pub fn finish(&self, start: &Reading, wall_s: f64, inferences: usize) -> Option<Energy> {
        let joules = match (self, start) {
            (Sensor::Rapl(z), Reading::Rapl(before)) => rapl_joules(z, before, &read_rapl(z)?),
            (Sensor::Hwmon(h), Reading::Watts(w0)) => (w0 + hwmon_watts(h)?) / 2.0 * wall_s,
            _ => return None,
        };
        Some(Energy {
            joules,
            average_watts: if wall_s > 0.0 {
                joules / wall_s
            } else {
                f64::NAN
            },
            joules_per_inference: joules / inferences.max(1) as f64,
            source: Source::Measured {
                sensor: self.describe(),
            },
        })
    }
}

/// A sensor reading at the start of an interval.
#[derive(Clone, Debug)]
pub enum Reading {
    Rapl(Vec<u64>),
    Watts(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &Path, dir: &str, name: &str, uj: u64, max: u64) {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), name).unwrap();
        std::fs::write(d.join("energy_uj"), uj.to_string()).unwrap();
        std::fs::write(d.join("max_energy_range_uj"), max.to_string()).unwrap();
    }

    #[test]
    fn rapl_counts_packages_not_subzones_and_survives_wrap_around() {
        let t = tempfile::tempdir().unwrap();
        zone(
            t.path(),
            "intel-rapl:0",
            "package-0",
            999_000_000,
            1_000_000_000,
        );
        zone(t.path(), "intel-rapl:0:0", "core", 5, 1_000_000_000);
        zone(t.path(), "intel-rapl:1", "package-1", 100, 1_000_000_000);
        let s = Sensor::find(t.path(), &t.path().join("none")).unwrap();
        let Sensor::Rapl(z) = &s else { panic!() };
        assert_eq!(z.len(), 2);
        let start = s.start().unwrap();
        // package-0 wraps: 999 J -> 1000 J (max) -> 1 J; package-1 +2 J.
        std::fs::write(t.path().join("intel-rapl:0/energy_uj"), "1000000").unwrap();
        std::fs::write(t.path().join("intel-rapl:1/energy_uj"), "2000100").unwrap();
        let e = s.finish(&start, 2.0, 4).unwrap();
        assert!((e.joules - 4.0).abs() < 1e-9, "{e:?}");
        assert!((e.average_watts - 2.0).abs() < 1e-9);
        assert!((e.joules_per_inference - 1.0).abs() < 1e-9);
        assert!(
            matches!(e.source, Source::Measured { ref sensor } if sensor == "RAPL package-0+package-1")
        );
        assert_eq!(counter_delta(10, 5, 20), 15);
    }

    #[test]
    fn hwmon_power_inputs_are_averaged_and_absent_sensors_fall_back() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("hwmon3");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), "ina3221").unwrap();
        std::fs::write(d.join("power1_input"), "3000000").unwrap();
        std::fs::write(d.join("power2_input"), "1000000").unwrap();
        let s = Sensor::find(&t.path().join("no-powercap"), t.path()).unwrap();
        assert_eq!(
            s.describe(),
            "hwmon ina3221/power1_input+ina3221/power2_input"
        );
        let start = s.start().unwrap();
        std::fs::write(d.join("power1_input"), "5000000").unwrap();
        let e = s.finish(&start, 10.0, 100).unwrap();
        assert!(
            (e.joules - 50.0).abs() < 1e-9,
            "(4 W + 6 W) / 2 x 10 s: {e:?}"
        );
        assert!(Sensor::find(&t.path().join("a"), &t.path().join("b")).is_none());
        let m = PowerModel {
            idle_watts: 2.0,
            active_watts_per_core: 1.5,
        };
        let e = m.estimate(10.0, 4.0, 20, "pi4");
        assert!((e.joules - 26.0).abs() < 1e-9);
        assert!((e.joules_per_inference - 1.3).abs() < 1e-9);
        assert!(matches!(e.source, Source::Estimated { .. }));
    }
}
