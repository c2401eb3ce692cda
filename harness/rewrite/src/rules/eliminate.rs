//! Eliminations: nodes that compute nothing at inference (Identity, Dropout, a Cast to the same type, a Reshape to
//! the same shape) are removed and their uses read their input.

use crate::build::*;
use crate::{Ctx, Edit, Patch, Rule};
use edgebench_graph::Model;

/// Removes a node whose output is its input (`Identity`, inference `Dropout`): its uses read the input instead.
fn passthrough(model: &Model, index: usize) -> Option<Patch> {
    let n = &model.graph.nodes[index];
    let (x, y) = (n.inputs.first()?, n.outputs.first()?);
    // A graph output keeps its name (users and comparisons index outputs by name); extra outputs must be unused.
    let extra_used = n
        .outputs
        .iter()
        .skip(1)
        .filter(|o| !o.is_empty())
        .any(|o| is_output(model, o) || model.graph.nodes.iter().any(|m| m.inputs.contains(o)));
    if x.is_empty() || is_output(model, y) || extra_used {
        return None;
    }
    Some(Patch {
        nodes: vec![n.name.clone()],
        edits: vec![
            Edit::RenameUses {
                from: y.clone(),
                to: x.clone(),
            },
            Edit::Replace {
                index,
                with: vec![],
            },
        ],
    })
}

/// **eliminate-identity**: `Identity` removed, its uses read its input.
pub struct EliminateIdentity;

impl Rule for EliminateIdentity {
    fn name(&self) -> &'static str {
        "eliminate-identity"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Identity"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        passthrough(model, index)
    }
}

/// **eliminate-dropout**: `Dropout` is the identity at inference (its mask output unused).
pub struct EliminateDropout;

impl Rule for EliminateDropout {
    fn name(&self) -> &'static str {
        "eliminate-dropout"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Dropout"]
    }
    fn node(&self, model: &Model, index: usize, _ctx: &Ctx) -> Option<Patch> {
        passthrough(model, index)
    }
}

/// **eliminate-noop-cast**: a `Cast` to the type its input already has.
pub struct EliminateNoopCast;

impl Rule for EliminateNoopCast {
    fn name(&self) -> &'static str {
        "eliminate-noop-cast"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Cast"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let (x, y) = (n.inputs.first()?, n.outputs.first()?);
        let (dt, _) = fact(ctx, x)?;
        if n.attr_int("to")? != dt.code() as i64 || is_output(m, y) {
            return None;
        }
        Some(Patch::bypass(n, index, y, x))
    }
}

/// **eliminate-noop-reshape-transpose**: a `Reshape`, `Expand` or step-1 `Slice` whose output has its input's shape,
/// or a `Transpose` with the identity permutation.
pub struct EliminateNoopReshape;

impl Rule for EliminateNoopReshape {
    fn name(&self) -> &'static str {
        "eliminate-noop-reshape-transpose"
    }
    fn ops(&self) -> &'static [&'static str] {
        &["Reshape", "Transpose", "Slice", "Expand"]
    }
    fn node(&self, m: &Model, index: usize, ctx: &Ctx) -> Option<Patch> {
        let n = &m.graph.nodes[index];
        let (x, y) = (n.inputs.first()?, n.outputs.first()?);
        let noop = if n.op_type == "Transpose" {
            n.attr_ints("perm")
                .is_some_and(|p| p.iter().enumerate().all(|(i, a)| *a == i as i64))
        } else {
            fact(ctx, x)?.1 == fact(ctx, y)?.1
        };
        if !noop || is_output(m, y) {
            return None;
        }
        Some(Patch::bypass(n, index, y, x))
    }
}
