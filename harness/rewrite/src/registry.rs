//! The rule set: every rule, once, in the order the driver tries them — shapes first (they unblock most), then
//! opsets, folding, eliminations, layout, decompositions. A rule's name is its identity in logs, caches and
//! results.json: names are unique (tested).

use crate::Rule;
use crate::rules::*;

/// Every rule, in the order the driver tries them.
pub static RULES: &[&(dyn Rule + Sync)] = &[
    &StaticShapes,
    &DowngradeOpset,
    &DropUnusedImports,
    &ConstantToInitializer,
    &FoldShapeChains,
    &FoldConstantOfShape,
    &FoldUnsqueeze,
    &EliminateIdentity,
    &EliminateDropout,
    &FoldBatchNorm,
    &GemmPretransposeB,
    &FlattenToReshape,
    &ExplicitPads,
    &DecomposeHardSwish,
    &DecomposeHardSwishClip,
    &DecomposeHardSigmoid,
    &EliminateNoopCast,
    &SqueezeToReshape,
    &GlobalMaxPoolToReduceMax,
    &SliceToSplit,
    &ExpandToAdd,
    &DecomposeMaxMin,
    &MatMulTo2d,
    &DequantizeWeights,
    &FoldCastWeights,
    &FoldMulConstants,
    &GemmToMatMulAdd,
    &DecomposeLayerNorm,
    &PowSquareToMul,
    &DecomposeSoftplusMish,
    &ClipBounds,
    &EliminateNoopReshape,
    &OneHotToGather,
    &FoldGatherMatMul,
    &SumToAdd,
];

/// Every rule, in the order the driver tries them.
pub fn all() -> Vec<&'static dyn Rule> {
    RULES.iter().map(|r| *r as &dyn Rule).collect()
}

/// Finds a rule by name.
pub fn by_name(name: &str) -> Option<&'static dyn Rule> {
    RULES
        .iter()
        .find(|r| r.name() == name)
        .map(|r| *r as &dyn Rule)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_names_are_unique_and_found_by_name() {
        let mut seen = std::collections::HashSet::new();
        for r in super::RULES {
            assert!(seen.insert(r.name()), "two rules are named {}", r.name());
            assert!(
                r.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}: names are kebab-case",
                r.name()
            );
            assert_eq!(super::by_name(r.name()).map(|x| x.name()), Some(r.name()));
        }
        assert!(super::by_name("no-such-rule").is_none());
    }
}
