//! Fitting a feed to a model: which tensor each runtime input gets, checked against the declared dtype and dims.

use crate::feed::{FeedError, FeedSpec, Fill};
use edgebench_backend_api::{Backend, InputSpec};
use edgebench_graph::stats::ShapeMap;
use edgebench_graph::{Dim, Model, ValueType};
use std::collections::HashMap;
use std::path::Path;

/// A fitted feed: one spec per runtime input, and notes on the dims that were defaulted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fitted {
    pub specs: Vec<FeedSpec>,
    /// e.g. "input `x`: dim `batch` = 1 (leading batch dim; --dim batch=N to change)".
    pub notes: Vec<String>,
}

/// Why a feed could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// A symbolic or unknown dim that no rule defaults: the user must give `--dim` or `--feed`.
    #[error("{0}")]
    NeedsFeed(String),
    /// A feed that does not parse, does not fit the model, or does not fit in memory.
    #[error(transparent)]
    Bad(#[from] FeedError),
}

/// Parses `--dim NAME=VALUE` flags (VALUE >= 1).
pub fn parse_dims(flags: &[String]) -> Result<Vec<(String, u64)>, FeedError> {
    flags
        .iter()
        .map(|f| {
            let bad = || {
                FeedError(format!(
                    "--dim {f}: expected NAME=VALUE with VALUE >= 1, e.g. batch=1"
                ))
            };
            let (n, v) = f.split_once('=').ok_or_else(bad)?;
            let v: u64 = v.trim().parse().map_err(|_| bad())?;
            if n.trim().is_empty() || v == 0 {
                return Err(bad());
            }
            Ok((n.trim().to_string(), v))
        })
        .collect()
}

/// The bytes a feed may take at most: `EDGEBENCH_MEMORY_BUDGET` (bytes, or with a K/M/G/T suffix), else half of
/// this machine's memory, else 8 GiB. Checked before any tensor is allocated.
pub fn memory_budget() -> u64 {
    if let Some(b) = std::env::var("EDGEBENCH_MEMORY_BUDGET")
        .ok()
        .and_then(|v| parse_bytes(&v))
    {
        return b;
    }
    mem_total().map(|b| b / 2).unwrap_or(8 << 30)
}

/// This machine's physical memory in bytes (`MemTotal` of /proc/meminfo), if readable; read once per process.
pub fn mem_total() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        let t = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = t.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// Parses a byte count with an optional K/M/G/T suffix (powers of 1024).
pub fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()?.to_ascii_uppercase() {
        'K' => (&v[..v.len() - 1], 1u64 << 10),
        'M' => (&v[..v.len() - 1], 1 << 20),
        'G' => (&v[..v.len() - 1], 1 << 30),
        'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// Resolves the declared dims of one input: concrete values stay, `--dim` names win, a symbolic or unknown leading
/// dim of a tensor of rank >= 2 (a batch) defaults to 1, anything else needs the user.
fn resolve_dims(
    label: &str,
    input: &str,
    dims: &[Dim],
    named: &[(String, u64)],
    notes: &mut Vec<String>,
) -> Result<Vec<usize>, FitError> {
    let mut out = vec![];
    for (k, d) in dims.iter().enumerate() {
        let batch_like = k == 0 && dims.len() >= 2;
        let v = match d {
            Dim::Value(v) if *v >= 0 => *v as u64,
            Dim::Param(p) => match named.iter().find(|(n, _)| n == p) {
                Some((_, v)) => *v,
                None if batch_like => {
                    notes.push(format!(
                        "{label}: input `{input}`: dim `{p}` = 1 (leading batch dim; --dim {p}=N to change)"
                    ));
                    1
                }
                None => {
                    return Err(FitError::NeedsFeed(format!(
                        "{label}: needs a feed: input `{input}` dim `{p}` (position {k}) is symbolic and not a leading batch dim; give --dim {p}=N or --feed {input}=DTYPE[...]"
                    )));
                }
            },
            _ if batch_like => {
                notes.push(format!(
                    "{label}: input `{input}`: unnamed leading dim = 1 (batch; --feed {input}=... to change)"
                ));
                1
            }
            _ => {
                return Err(FitError::NeedsFeed(format!(
                    "{label}: needs a feed: input `{input}` has an unnamed dynamic dim at position {k}; give --feed {input}=DTYPE[...]"
                )));
            }
        };
        out.push(v as usize);
    }
    Ok(out)
}

/// The feed for a model: `--feed` flags first, then the zoo manifest's feed, then the model's declared shapes with
/// symbolic dims resolved (`--dim NAME=VALUE`, else leading batch dims = 1, noted). Every runtime input must end
/// up fed with its declared dtype and a shape that fits its declared dims, and the whole feed must fit in
/// [`memory_budget`]. This is the one resolution `run`, `bench`, `check --verify` and the default plan use.
pub fn fit(
    model: &Model,
    label: &str,
    flags: &[String],
    dim_flags: &[String],
    defaults: &[FeedSpec],
) -> Result<Fitted, FitError> {
    let named = parse_dims(dim_flags)?;
    let given: Vec<FeedSpec> = flags
        .iter()
        .map(|f| FeedSpec::parse(f))
        .collect::<Result<_, _>>()?;
    let inputs = model.graph.runtime_inputs();
    for g in &given {
        if !inputs.iter().any(|i| i.name == g.name) {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(FeedError(format!(
                "{}: --feed names `{}`, which is not an input (inputs: {})",
                label,
                g.name,
                names.join(", ")
            ))
            .into());
        }
    }
    let mut out = Fitted::default();
    let budget = memory_budget();
    let mut total: u64 = 0;
    for i in inputs {
        let declared = i.ty.as_ref().and_then(ValueType::as_tensor);
        let spec = if let Some(g) = given.iter().find(|g| g.name == i.name) {
            g.clone()
        } else if let Some(d) = defaults.iter().find(|d| d.name == i.name) {
            d.clone()
        } else {
            let Some((dtype, Some(dims))) = declared else {
                return Err(FitError::NeedsFeed(format!(
                    "{}: needs a feed: input `{}` has no declared tensor shape; give --feed {}=DTYPE[SHAPE]",
                    label, i.name, i.name
                )));
            };
            FeedSpec {
                name: i.name.clone(),
                dtype,
                shape: resolve_dims(label, &i.name, dims, &named, &mut out.notes)?,
                fill: Fill::Random,
            }
        };
        if let Some((dtype, dims)) = declared {
            if spec.dtype != dtype {
                return Err(FeedError(format!(
                    "{}: input `{}` is {dtype}, but the feed gives {}",
                    label, i.name, spec.dtype
                ))
                .into());
            }
            if let Some(dims) = dims {
                let fits = dims.len() == spec.shape.len()
                    && dims
                        .iter()
                        .zip(&spec.shape)
                        .all(|(d, s)| d.value().is_none_or(|v| v == *s as u64));
                if !fits {
                    return Err(FeedError(format!(
                        "{}: input `{}` has shape {}, but the feed gives {:?}",
                        label,
                        i.name,
                        edgebench_graph::shape_string(Some(dims)),
                        spec.shape
                    ))
                    .into());
                }
            }
        }
        let bytes = spec
            .shape
            .iter()
            .try_fold(1u64, |a, d| a.checked_mul(*d as u64))
            .and_then(|n| n.checked_mul(spec.dtype.bytes_for(1).max(1)));
        total = bytes.and_then(|b| total.checked_add(b)).unwrap_or(u64::MAX);
        if total > budget {
            return Err(FeedError(format!(
                "{}: input `{}` {}{:?} needs {} bytes, over the memory budget of {budget} bytes (EDGEBENCH_MEMORY_BUDGET)",
                label,
                i.name,
                spec.dtype,
                spec.shape,
                bytes.map(|b| b.to_string()).unwrap_or_else(|| "more than 2^64".into())
            ))
            .into());
        }
        out.specs.push(spec);
    }
    Ok(out)
}

/// The symbolic dims (by name, in input order) a feed still needs: named dims of inputs that no `--feed` flag or
/// default feed covers, that are not leading batch dims, and that no `--dim` names. Feed discovery searches values
/// for them.
pub fn open_dims(
    model: &Model,
    flags: &[String],
    dim_flags: &[String],
    defaults: &[FeedSpec],
) -> Vec<String> {
    let named = parse_dims(dim_flags).unwrap_or_default();
    let given: Vec<String> = flags
        .iter()
        .filter_map(|f| FeedSpec::parse(f).ok().map(|s| s.name))
        .collect();
    let mut out: Vec<String> = vec![];
    for i in model.graph.runtime_inputs() {
        if given.contains(&i.name) || defaults.iter().any(|d| d.name == i.name) {
            continue;
        }
        let Some((_, Some(dims))) = i.ty.as_ref().and_then(ValueType::as_tensor) else {
            continue;
        };
        for (k, d) in dims.iter().enumerate() {
            if let Dim::Param(p) = d
                && !(k == 0 && dims.len() >= 2)
                && !named.iter().any(|(n, _)| n == p)
                && !out.contains(p)
            {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Dim values the graph itself suggests, smallest first: positive entries of the int64 constants that shape code
/// reads (Reshape, Expand, Tile, Slice, ConstantOfShape, Range), and the concrete dims of inputs and outputs, from
/// 2 to 100000.
pub fn implied_values(model: &Model) -> Vec<u64> {
    let g = &model.graph;
    let mut out: Vec<u64> = vec![];
    let shape_code = [
        "Reshape",
        "Expand",
        "Tile",
        "Slice",
        "ConstantOfShape",
        "Range",
    ];
    for n in g
        .nodes
        .iter()
        .filter(|n| shape_code.contains(&n.op_type.as_str()))
    {
        for i in n
            .inputs
            .iter()
            .skip(usize::from(n.op_type != "ConstantOfShape"))
        {
            if let Some(v) = g.initializer(i).and_then(|t| t.as_i64()) {
                out.extend(v.into_iter().filter(|x| *x > 0).map(|x| x as u64));
            }
        }
    }
    for v in g.inputs.iter().chain(&g.outputs) {
        if let Some((_, Some(dims))) = v.ty.as_ref().and_then(ValueType::as_tensor) {
            out.extend(dims.iter().filter_map(Dim::value));
        }
    }
    out.retain(|x| (2..=100_000).contains(x));
    out.sort_unstable();
    out.dedup();
    out
}

/// [`fit`] without `--dim` flags, for callers that only need the specs.
pub fn feed(
    model: &Model,
    label: &str,
    flags: &[String],
    defaults: &[FeedSpec],
) -> Result<Vec<FeedSpec>, FitError> {
    fit(model, label, flags, &[], defaults).map(|f| f.specs)
}

/// What backends are told about inputs before loading.
pub fn input_specs(specs: &[FeedSpec]) -> Vec<InputSpec> {
    specs
        .iter()
        .map(|s| InputSpec {
            name: s.name.clone(),
            dtype: s.dtype,
            shape: s.shape.clone(),
        })
        .collect()
}

/// The shapes of a model's values: its own annotations, the feed's input shapes, then (with a feed) what the
/// `reference` backend infers for the rest; and where they came from, in order.
pub fn shapes(
    model: &Model,
    path: &Path,
    feed: Option<&[FeedSpec]>,
    reference: Option<&dyn Backend>,
) -> (ShapeMap, Vec<String>) {
    let mut sources = vec!["model annotations".to_string()];
    let mut overrides = HashMap::new();
    for s in feed.unwrap_or_default() {
        overrides.insert(s.name.clone(), s.shape.iter().map(|d| *d as u64).collect());
    }
    if let Some(f) = feed.filter(|f| !f.is_empty()) {
        let specs: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        sources.push(format!("feed {}", specs.join(" ")));
    }
    let mut shapes = ShapeMap::from_model(model, &overrides);
    // A TFLite file declares every tensor's shape: there is nothing for an ONNX backend to infer.
    let reference = reference.filter(|_| model.format == edgebench_graph::Format::Onnx);
    if let (Some(f), Some(b)) = (feed, reference) {
        match b.infer_shapes(path, &input_specs(f)) {
            Some(Ok(inferred)) => {
                shapes.extend_missing(inferred);
                sources.push(format!("{} shape inference", b.name()));
            }
            Some(Err(e)) => sources.push(format!("{} shape inference failed: {e}", b.name())),
            None => {}
        }
    }
    (shapes, sources)
}
