//! One inference of a model on a backend with a seeded feed, optionally compared with another backend on the same
//! feed (`edgebench run`): each output's summary and each output's agreement, as a value.

use crate::Error;
use edgebench_backend_api::{Backend, HostTensor, InputSpec, ObservedPlacement};
use edgebench_models::{FeedSpec, make_feed};
use serde::Serialize;
use std::path::Path;

/// One output of one run.
#[derive(Serialize, Clone, Debug)]
pub struct OutputReport {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub summary: edgebench_backend_api::Summary,
}

/// The same feed on another backend: the agreement of each output.
#[derive(Serialize, Clone, Debug)]
pub struct Comparison {
    pub backend: String,
    pub version: String,
    pub outputs: Vec<crate::agreement::OutputAgreement>,
}

/// What `run --json` prints.
#[derive(Serialize, Clone, Debug)]
pub struct RunReport {
    pub model: String,
    pub path: String,
    pub backend: String,
    pub version: String,
    pub seed: u64,
    pub feed: Vec<String>,
    pub outputs: Vec<OutputReport>,
    pub compare: Option<Comparison>,
    /// `run --placement`: where the backend's profiler saw each node run (backends with an accelerator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<ObservedPlacement>,
}

/// A backend with its version (as [`crate::machine::available`] returns it).
pub type Available<'a> = (&'a dyn Backend, String);

/// Runs `path` (named `label` in messages) on `backend` with the feed `specs` seeded by `seed`, and on `compare`
/// when given; with `placement`, also where the backend ran each node (one profiled run of its own). Returns the report and the first backend's outputs. A feed that cannot be made is a usage error; a
/// load or run failure is a backend error naming the model.
pub fn run(
    label: &str,
    path: &Path,
    specs: &[FeedSpec],
    seed: u64,
    backend: Available,
    compare: Option<Available>,
    placement: bool,
) -> Result<(RunReport, Vec<(String, HostTensor)>), Error> {
    let feed = tensors(specs, seed)?;
    let inputs = edgebench_models::fit::input_specs(specs);
    let outs = infer(backend.0, label, path, &inputs, &feed)?;
    let placement = match placement.then(|| backend.0.placement(path, &feed)) {
        None => None,
        Some(None) => {
            return Err(Error::Unavailable(format!(
                "{} reports no placement (it has no accelerator that takes some nodes and leaves others)",
                backend.0.name()
            )));
        }
        Some(Some(r)) => Some(r.map_err(|e| Error::Backend(format!("{label}: {e}")))?),
    };
    let compare = match compare {
        None => None,
        Some((ob, version)) => {
            let theirs = infer(ob, label, path, &inputs, &feed)?;
            Some(Comparison {
                backend: ob.name().into(),
                version,
                outputs: crate::agreement::per_output(ob.name(), &outs, &theirs),
            })
        }
    };
    let report = RunReport {
        model: label.to_string(),
        path: path.display().to_string(),
        backend: backend.0.name().into(),
        version: backend.1,
        seed,
        feed: specs.iter().map(|s| s.to_string()).collect(),
        outputs: outs
            .iter()
            .map(|(n, t)| OutputReport {
                name: n.clone(),
                dtype: t.dtype().name(),
                shape: t.shape.clone(),
                summary: t.summary(),
            })
            .collect(),
        compare,
        placement,
    };
    Ok((report, outs))
}

/// The tensors of a feed, seeded; a spec that cannot be filled is a usage error.
pub fn tensors(specs: &[FeedSpec], seed: u64) -> Result<Vec<(String, HostTensor)>, Error> {
    specs
        .iter()
        .map(|s| {
            let t = make_feed(s, seed).map_err(|e| Error::Usage(e.to_string()))?;
            Ok((s.name.clone(), t))
        })
        .collect()
}

fn infer(
    b: &dyn Backend,
    label: &str,
    path: &Path,
    specs: &[InputSpec],
    feed: &[(String, HostTensor)],
) -> Result<Vec<(String, HostTensor)>, Error> {
    let failed = |e: edgebench_backend_api::BackendError| Error::Backend(format!("{label}: {e}"));
    b.load(path, specs)
        .map_err(failed)?
        .run(feed)
        .map_err(failed)
}
