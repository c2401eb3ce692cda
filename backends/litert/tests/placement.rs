//! LiteRT's profiler tells where each node ran: a model edgebench writes with an op XNNPACK does not take (CUMSUM)
//! between two it does (ADD, MUL) runs that op on the interpreter's kernels and the others on XNNPACK.

use edgebench_backend_api::{Backend, Data, HostTensor};
use edgebench_backend_litert::{Accel, Litert};
use edgebench_graph::tflite::fixtures::{add_cumsum_mul, dynamic_filter_conv};

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

#[test]
fn a_conv_whose_filter_is_computed_at_run_time_stays_on_the_interpreter() {
    if !required() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.tflite");
    std::fs::write(&p, dynamic_filter_conv()).unwrap();
    let feed = vec![
        (
            "x".to_string(),
            HostTensor {
                shape: vec![1, 4, 4, 2],
                data: Data::F32(vec![1.0; 32]),
            },
        ),
        (
            "w".to_string(),
            HostTensor {
                shape: vec![3, 1, 1, 2],
                data: Data::F32(vec![0.5; 6]),
            },
        ),
    ];
    let b = Litert::new(Accel::Cpu, None);
    let placed = b.placement(&p, &feed).unwrap().unwrap();
    assert_eq!(placed.on_cpu_kernels, [0], "{placed:?}");
    assert_eq!(placed.partitions, 0, "{placed:?}");
    // ... and the placement layer predicts it (the table's static_inputs).
    let model = edgebench_graph::load(&p).unwrap();
    let table = edgebench_compat::embedded("litert").unwrap().unwrap();
    let predicted = edgebench_compat::placement::predict(&model, &table).unwrap();
    assert_eq!(
        (predicted.on_cpu_kernels.as_slice(), predicted.partitions),
        (&[0usize][..], 0)
    );
    let model = edgebench_graph::decode(
        add_cumsum_mul().into(),
        std::path::Path::new("m.tflite"),
        None,
    )
    .unwrap();
    let predicted = edgebench_compat::placement::predict(&model, &table).unwrap();
    assert_eq!(
        (predicted.on_cpu_kernels.as_slice(), predicted.partitions),
        (&[1usize][..], 2)
    );
}

#[test]
fn a_run_that_fails_ends_with_litert_s_own_reason() {
    if !required() {
        return;
    }
    use edgebench_graph::tflite::write::{ModelSpec, OpSpec, OptField, TensorSpec, f32_bytes};
    let t = |name: &str, shape: Vec<i32>| TensorSpec {
        name: name.into(),
        dtype: 0,
        shape,
        ..Default::default()
    };
    // CONV_2D without its bias: LiteRT's kernel refuses it when it prepares (at the first run).
    let bytes = ModelSpec {
        description: "edgebench test".into(),
        tensors: vec![
            t("x", vec![1, 4, 4, 2]),
            TensorSpec {
                data: Some(f32_bytes(&[0.5; 6])),
                ..t("w", vec![3, 1, 1, 2])
            },
            t("y", vec![1, 4, 4, 3]),
        ],
        ops: vec![OpSpec {
            builtin: 3,
            version: 1,
            inputs: vec![0, 1, -1],
            outputs: vec![2],
            options: Some((
                1,
                vec![
                    (0, OptField::I8(1)),
                    (1, OptField::I32(1)),
                    (2, OptField::I32(1)),
                ],
            )),
            ..Default::default()
        }],
        inputs: vec![0],
        outputs: vec![2],
    }
    .encode();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.tflite");
    std::fs::write(&p, bytes).unwrap();
    let feed = vec![(
        "x".to_string(),
        HostTensor {
            shape: vec![1, 4, 4, 2],
            data: Data::F32(vec![1.0; 32]),
        },
    )];
    let b = Litert::new(Accel::Reference, None);
    let e = match b.load(&p, &[]).and_then(|mut s| s.run(&feed)) {
        Ok(_) => panic!("a CONV_2D without bias ran"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("LiteRT said:") && e.contains("CONV_2D"), "{e}");
}
