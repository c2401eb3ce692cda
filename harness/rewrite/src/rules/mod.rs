//! The rules, grouped by kind. Each is small, keyed by op type, and returns a patch only for a node the target
//! cannot run. Which rules exist, and in which order the driver tries them, is [`crate::registry`].

pub mod decompose;
pub mod eliminate;
pub mod fold;
pub mod layout;
pub mod opset;

pub use decompose::{
    ClipBounds, DecomposeHardSigmoid, DecomposeHardSwish, DecomposeHardSwishClip,
    DecomposeLayerNorm, DecomposeMaxMin, DecomposeSoftplusMish, ExpandToAdd, GemmToMatMulAdd,
    GlobalMaxPoolToReduceMax, OneHotToGather, PowSquareToMul, SumToAdd,
};
pub use eliminate::{EliminateDropout, EliminateIdentity, EliminateNoopCast, EliminateNoopReshape};
pub use fold::{
    ConstantToInitializer, DequantizeWeights, FoldBatchNorm, FoldCastWeights, FoldConstantOfShape,
    FoldGatherMatMul, FoldMulConstants, FoldShapeChains, FoldUnsqueeze,
};
pub use layout::{
    ExplicitPads, FlattenToReshape, GemmPretransposeB, MatMulTo2d, SliceToSplit, SqueezeToReshape,
    StaticShapes,
};
pub use opset::{DowngradeOpset, DropUnusedImports};
