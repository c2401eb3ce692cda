//! LiteRT's profiler tells where each node ran: a model edgebench writes with an op XNNPACK does not take (CUMSUM)
//! between two it does (ADD, MUL) runs that op on the interpreter's kernels and the others on XNNPACK.

use edgebench_backend_api::{Backend, Data, HostTensor};
use edgebench_backend_litert::{Accel, Litert};
use edgebench_graph::tflite::write::{ModelSpec, OpSpec, TensorSpec, f32_bytes, i32_bytes};

fn required() -> bool {
    let b = Litert::new(Accel::Cpu, None);
    if b.availability().is_available() {
        return true;
    }
    if std::env::var("EDGEBENCH_CI").is_ok_and(|v| v == "1") {
        panic!(
            "EDGEBENCH_CI=1 but LiteRT is not available: {:?}",
            b.availability()
        );
    }
    eprintln!("NOT RUN: LiteRT is not available (ci/setup.sh installs the ai-edge-litert wheel)");
    false
}

pub fn add_cumsum_mul() -> Vec<u8> {
    let t = |name: &str| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape: vec![1, 8],
        ..Default::default()
    };
    let mut axis = TensorSpec {
        name: "axis".into(),
        dtype: 2,
        shape: vec![],
        ..Default::default()
    };
    axis.data = Some(i32_bytes(&[1]));
    let mut two = t("two");
    two.data = Some(f32_bytes(&[2.0; 8]));
    ModelSpec {
        description: "edgebench placement test".into(),
        tensors: vec![t("a"), t("b"), t("s"), axis, t("c"), two, t("y")],
        ops: vec![
            OpSpec {
                builtin: 0,
                version: 1,
                inputs: vec![0, 1],
                outputs: vec![2],
                ..Default::default()
            },
            OpSpec {
                builtin: 128,
                version: 1,
                inputs: vec![2, 3],
                outputs: vec![4],
                ..Default::default()
            },
            OpSpec {
                builtin: 18,
                version: 1,
                inputs: vec![4, 5],
                outputs: vec![6],
                ..Default::default()
            },
        ],
        inputs: vec![0, 1],
        outputs: vec![6],
    }
    .encode()
}

#[test]
fn the_profiler_places_cumsum_on_the_interpreter_and_the_rest_on_xnnpack() {
    if !required() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.tflite");
    std::fs::write(&p, add_cumsum_mul()).unwrap();
    let one = |x: f32| HostTensor {
        shape: vec![1, 8],
        data: Data::F32(vec![x; 8]),
    };
    let feed = vec![("a".to_string(), one(1.0)), ("b".to_string(), one(0.5))];
    let b = Litert::new(Accel::Cpu, None);
    let out = b.load(&p, &[]).unwrap().run(&feed).unwrap();
    // cumsum of 1.5 along 8 elements, times 2
    assert_eq!(
        out[0].1.to_f64(),
        (1..=8).map(|i| 3.0 * i as f64).collect::<Vec<_>>()
    );
    let placed = b.placement(&p, &feed).unwrap().unwrap();
    assert_eq!(placed.accelerator, "XNNPACK");
    assert_eq!(placed.on_cpu_kernels, [1], "{placed:?}");
    assert!(!placed.fully_accelerated, "{placed:?}");
    assert_eq!(
        (placed.partitions, placed.accelerator_ops),
        (2, 2),
        "ADD and MUL, each its own partition: {placed:?}"
    );
}
