//! Measurement: the adaptive sampling loop and its statistics, process memory and CPU time, energy (sensors or a
//! power model), and the device descriptions of `targets.toml`. Knows no backend: what is timed is a closure.

pub mod energy;
pub mod process;
pub mod roofs;
pub mod sampling;
pub mod stats;
pub mod targets;
