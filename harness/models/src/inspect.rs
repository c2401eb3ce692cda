//! The facts `edgebench inspect` reports about a resolved model: where it came from, its size, and the graph's
//! summary with shapes from the model, the feed and a backend's shape inference.

use crate::FeedSpec;
use crate::resolve::{ModelRef, Origin};
use edgebench_backend_api::Backend;
use edgebench_graph::Model;

/// What `inspect --json` prints.
#[derive(serde::Serialize)]
pub struct Report {
    pub model: String,
    pub path: String,
    pub origin: Origin,
    pub file_bytes: u64,
    pub shape_sources: Vec<String>,
    #[serde(flatten)]
    pub summary: edgebench_graph::stats::Summary,
}

/// Summarises a loaded model; shapes come from the model, the feed (when there is one) and `reference`'s shape
/// inference (when given).
pub fn report(
    m: &ModelRef,
    model: &Model,
    feed: Option<&[FeedSpec]>,
    reference: Option<&dyn Backend>,
) -> Report {
    let (shapes, sources) = crate::fit::shapes(model, &m.path, feed, reference);
    Report {
        model: m.label.clone(),
        path: m.path.display().to_string(),
        origin: m.origin.clone(),
        file_bytes: std::fs::metadata(&m.path).map(|x| x.len()).unwrap_or(0),
        shape_sources: sources,
        summary: edgebench_graph::stats::summarize(model, &shapes),
    }
}
