//! Shared set-up of the fuzz targets: one folder with a small external-data file, the parsed tables, and the feed
//! resolution (which must refuse absurd sizes instead of allocating them).

use edgebench_compat::SupportTable;
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct World {
    pub dir: PathBuf,
    pub tables: Vec<SupportTable>,
    _keep: tempfile::TempDir,
}

/// Built once per fuzzing process.
pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        // A small budget, so that a feed the fitter accepts can be checked against it below.
        // SAFETY: set once, before any other thread of this process reads the environment.
        unsafe { std::env::set_var("EDGEBENCH_MEMORY_BUDGET", "256M") };
        let keep = tempfile::tempdir().expect("temp dir");
        // 64 bytes of external data that hostile offsets and lengths point into (and past).
        std::fs::write(keep.path().join("weights.bin"), [7u8; 64]).expect("weights");
        World {
            dir: keep.path().to_path_buf(),
            tables: edgebench_compat::exercise::tables(),
            _keep: keep,
        }
    })
}

/// Everything a user command does with a model before a backend sees it.
pub fn exercise(bytes: &[u8]) {
    let w = world();
    let _ = edgebench_compat::exercise::exercise(bytes, &w.dir, &w.tables);
    if let Ok(model) =
        edgebench_graph::decode(bytes.to_vec().into(), &w.dir.join("m.onnx"), Some(&w.dir))
    {
        // The feed a run would build: sizes are checked against the budget, nothing huge is allocated.
        if let Ok(f) = edgebench_models::fit::fit(&model, "fuzz", &[], &[], &[]) {
            let bytes: u128 = f
                .specs
                .iter()
                .map(|s| s.shape.iter().map(|d| *d as u128).product::<u128>() * 8)
                .sum();
            assert!(
                bytes <= 8 * (256 << 20),
                "a fitted feed beyond the budget: {:?}",
                f.specs
            );
        }
    }
}

/// The TFLite reader and everything after it on arbitrary bytes carrying TFLite's identifier.
pub fn exercise_tflite(bytes: &[u8]) {
    let mut b = bytes.to_vec();
    if b.len() >= 8 {
        b[4..8].copy_from_slice(b"TFL3");
    }
    let w = world();
    let path = w.dir.join("m.tflite");
    if let Ok(model) = edgebench_graph::decode(b.into(), &path, None) {
        let _ = edgebench_graph::validate::validate(&model);
        let shapes = edgebench_graph::stats::ShapeMap::from_model(&model, &Default::default());
        let _ = edgebench_graph::stats::estimate_flops(&model, &shapes);
        model
            .graph
            .walk(&mut |_, n| {
                let _ = edgebench_graph::stats::node_flops(n, &shapes);
            });
        for t in &w.tables {
            let _ = edgebench_compat::check::check(&model, t, &shapes);
        }
    }
}
