//! A patch: edits of the main graph that a rule proposes, applied together or not at all.

use edgebench_graph::{AttrValue, Graph, Model, Node, Tensor, ValueInfo};

/// One edit.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Main-graph node `index` (numbering of the model the patch was made for) becomes these nodes.
    Replace {
        index: usize,
        with: Vec<Node>,
    },
    /// Every use of value `from` as a node input (at any depth) becomes `to`. Graph outputs keep their names.
    RenameUses {
        from: String,
        to: String,
    },
    AddInitializer(Tensor),
    /// The opset import of a domain (`""` = ai.onnx) becomes this version.
    SetOpset {
        domain: String,
        version: i64,
    },
    /// The opset import of a domain is dropped (no node uses it).
    RemoveOpset(String),
    /// The main graph's inputs, outputs and value_info are replaced (static shapes).
    SetValueInfos {
        inputs: Vec<ValueInfo>,
        outputs: Vec<ValueInfo>,
        value_info: Vec<ValueInfo>,
    },
}

/// Edits and the nodes they touch (names, for the log).
#[derive(Clone, Debug, Default)]
pub struct Patch {
    pub nodes: Vec<String>,
    pub edits: Vec<Edit>,
}

impl Patch {
    /// Node `index` (named `n`) replaced by `with`, after adding `inits`.
    pub fn replace(n: &Node, index: usize, with: Vec<Node>, inits: Vec<Tensor>) -> Patch {
        let mut edits: Vec<Edit> = inits.into_iter().map(Edit::AddInitializer).collect();
        edits.push(Edit::Replace { index, with });
        Patch {
            nodes: vec![n.name.clone()],
            edits,
        }
    }

    /// Node `index` (named `n`) replaced by a constant: its output becomes initializer `t`.
    pub fn to_constant(n: &Node, index: usize, t: Tensor) -> Patch {
        Patch::replace(n, index, vec![], vec![t])
    }

    /// Node `index` (named `n`) removed, its output `y` read as its input `x` from now on.
    pub fn bypass(n: &Node, index: usize, y: &str, x: &str) -> Patch {
        Patch {
            nodes: vec![n.name.clone()],
            edits: vec![
                Edit::RenameUses {
                    from: y.to_string(),
                    to: x.to_string(),
                },
                Edit::Replace {
                    index,
                    with: vec![],
                },
            ],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Adds another rule application's edits (they touch other nodes).
    pub fn merge(&mut self, other: Patch) {
        self.nodes.extend(other.nodes);
        self.edits.extend(other.edits);
    }

    /// Applies every edit. Node replacements go from the highest index down, so indices stay those of the model
    /// the patch was made for.
    pub fn apply(&self, model: &mut Model) {
        let mut replaces: Vec<(usize, &Vec<Node>)> = vec![];
        for e in &self.edits {
            match e {
                Edit::Replace { index, with } => replaces.push((*index, with)),
                Edit::RenameUses { from, to } => rename_uses(&mut model.graph, from, to),
                Edit::AddInitializer(t) => {
                    model.graph.initializers.retain(|x| x.name() != t.name());
                    model.graph.initializers.push(t.clone());
                }
                Edit::SetOpset { domain, version } => {
                    model.opset_imports.insert(domain.clone(), *version);
                }
                Edit::RemoveOpset(domain) => {
                    model.opset_imports.remove(domain);
                }
                Edit::SetValueInfos {
                    inputs,
                    outputs,
                    value_info,
                } => {
                    model.graph.inputs = inputs.clone();
                    model.graph.outputs = outputs.clone();
                    model.graph.value_info = value_info.clone();
                }
            }
        }
        replaces.sort_by(|a, b| b.0.cmp(&a.0));
        for (i, with) in replaces {
            if i < model.graph.nodes.len() {
                model.graph.nodes.splice(i..=i, with.iter().cloned());
            }
        }
        drop_unused_initializers(&mut model.graph);
    }
}

fn rename_uses(g: &mut Graph, from: &str, to: &str) {
    for n in &mut g.nodes {
        for i in &mut n.inputs {
            if i == from {
                *i = to.to_string();
            }
        }
        for a in &mut n.attributes {
            match &mut a.value {
                AttrValue::Graph(sub) => rename_uses(sub, from, to),
                AttrValue::Graphs(subs) => subs.iter_mut().for_each(|s| rename_uses(s, from, to)),
                _ => {}
            }
        }
    }
}

/// Removes initializers no node (at any depth) and no graph output uses any more.
pub(crate) fn drop_unused_initializers(g: &mut Graph) {
    let mut used = std::collections::HashSet::new();
    fn collect(g: &Graph, used: &mut std::collections::HashSet<String>) {
        for n in &g.nodes {
            used.extend(n.inputs.iter().cloned());
            for a in &n.attributes {
                match &a.value {
                    AttrValue::Graph(sub) => collect(sub, used),
                    AttrValue::Graphs(subs) => subs.iter().for_each(|s| collect(s, used)),
                    _ => {}
                }
            }
        }
        used.extend(g.outputs.iter().map(|o| o.name.clone()));
    }
    collect(g, &mut used);
    let inputs: std::collections::HashSet<String> =
        g.inputs.iter().map(|i| i.name.clone()).collect();
    g.initializers
        .retain(|t| used.contains(t.name()) || inputs.contains(t.name()));
}
