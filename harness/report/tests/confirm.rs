//! The gate's two interleaved-session checks on saved runs: the confirmation stage (a flagged cell fails only if
//! the confirmation session flags it too) and cells whose children keep their own speed (not gateable).

use edgebench_report::gate::{self, GateOptions, Verdict};
use edgebench_report::{ProcessRecord, Results};
use std::path::Path;

/// A side's samples: `pairs` x 2 turns of 20 samples, turn i from child i % 2; `child2` scales the second child,
/// `f` the whole side. Deterministic ripple of ±2 % within a turn.
fn side(pairs: usize, f: f64, child2: f64) -> (Vec<f64>, Vec<usize>) {
    let mut s = vec![];
    for t in 0..pairs * 2 {
        let c = if t % 2 == 1 { child2 } else { 1.0 };
        s.extend(
            (0..20).map(|j| 10_000.0 * f * c * (1.0 + 0.01 * ((t * 3 + j) % 5) as f64 - 0.02)),
        );
    }
    (s, vec![20; pairs * 2])
}

/// Writes run folder `<root>/<id>` of one interleaved side with one cell (host/tract/tiny_mlp/fp32).
fn write_side(
    root: &Path,
    id: &str,
    session: &str,
    confirmation: Option<&str>,
    samples: (Vec<f64>, Vec<usize>),
) {
    let mut r: Results =
        serde_json::from_str(include_str!("data/paired-side.json")).expect("template parses");
    let side = &id[id.len() - 1..];
    r.run_id = id.into();
    let p = r.settings.paired.as_mut().expect("template is paired");
    p.session = session.into();
    p.side = side.into();
    p.other_run = format!("{session}-{}", if side == "a" { "b" } else { "a" });
    p.confirmation = confirmation.map(String::from);
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("samples")).unwrap();
    let (s, sizes) = samples;
    let text: String = s.iter().map(|x| format!("{x:.0}\n")).collect();
    std::fs::write(dir.join("samples/cell.ns.txt"), text).unwrap();
    let cell = &mut r.cells[0];
    cell.samples_file = Some("samples/cell.ns.txt".into());
    cell.latency = Some(edgebench_measure::stats::Stats::from_samples(&s));
    cell.turns = sizes
        .iter()
        .map(|&n| ProcessRecord {
            samples: n,
            p50_ns: 0.0,
        })
        .collect();
    edgebench_report::save(&dir, &r).unwrap();
}

fn judge(root: &Path) -> gate::Gate {
    let load = |id: &str| edgebench_report::load(&root.join(id).join("results.json")).unwrap();
    gate::gate(
        &load("S-a"),
        &root.join("S-a"),
        &load("S-b"),
        &root.join("S-b"),
        &GateOptions::default(),
    )
    .unwrap()
}

#[test]
fn a_flagged_cell_fails_only_when_fresh_children_flag_it_again() {
    for (again, verdict, fails) in [(1.30, Verdict::Regressed, 1), (1.00, Verdict::Cleared, 0)] {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        write_side(root, "S-a", "S", Some("S-confirm"), side(20, 1.0, 1.0));
        write_side(root, "S-b", "S", Some("S-confirm"), side(20, 1.3, 1.0));
        write_side(root, "S-confirm-a", "S-confirm", None, side(20, 1.0, 1.0));
        write_side(root, "S-confirm-b", "S-confirm", None, side(20, again, 1.0));
        let g = judge(root);
        let c = &g.cells[0];
        assert_eq!(c.verdict, verdict, "{c:?}");
        assert_eq!(g.failures, fails);
        let cf = c
            .confirmation
            .as_ref()
            .expect("the flagged cell was confirmed or cleared");
        assert_eq!(cf.flagged, Verdict::Regressed);
        let st = g.confirmation.as_ref().unwrap();
        assert_eq!((st.cells, st.confirmed + st.cleared), (1, 1));
        assert!((st.confidence - 0.95).abs() < 1e-9);
        if fails == 0 {
            assert!(c.reason.starts_with("flagged regressed"), "{}", c.reason);
        }
    }
}

#[test]
fn a_missing_confirmation_leaves_the_flag_standing_with_a_warning() {
    let t = tempfile::tempdir().unwrap();
    write_side(t.path(), "S-a", "S", Some("S-confirm"), side(20, 1.0, 1.0));
    write_side(t.path(), "S-b", "S", Some("S-confirm"), side(20, 1.3, 1.0));
    let g = judge(t.path());
    assert_eq!(g.cells[0].verdict, Verdict::Regressed);
    assert_eq!(g.failures, 1);
    assert!(
        g.warnings.iter().any(|w| w.contains("stand unconfirmed")),
        "{:?}",
        g.warnings
    );
}

#[test]
fn children_with_their_own_speed_make_a_cell_not_gateable_unless_the_change_is_clear_of_them() {
    // Side a's second child 8 % slower all session, side b unchanged: the turn ratio alone would be ~0.96.
    let t = tempfile::tempdir().unwrap();
    write_side(t.path(), "S-a", "S", None, side(20, 1.0, 1.08));
    write_side(t.path(), "S-b", "S", None, side(20, 1.0, 1.0));
    let g = judge(t.path());
    let c = &g.cells[0];
    assert_eq!(c.verdict, Verdict::NotGateable, "{c:?}");
    assert!(
        c.reason.contains("not gateable on this machine at 5 %"),
        "{}",
        c.reason
    );
    let s = c.spread.as_ref().unwrap();
    assert_eq!(s.side, "baseline");
    assert!((s.ratio - 1.08).abs() < 0.01, "{s:?}");
    assert_eq!(g.failures, 0);
    // A 50 % slowdown is clear of an 8 % spread: still regressed.
    let t = tempfile::tempdir().unwrap();
    write_side(t.path(), "S-a", "S", None, side(20, 1.0, 1.08));
    write_side(t.path(), "S-b", "S", None, side(20, 1.5, 1.0));
    assert_eq!(judge(t.path()).cells[0].verdict, Verdict::Regressed);
    // Children within 1 % of each other: judged as usual.
    let t = tempfile::tempdir().unwrap();
    write_side(t.path(), "S-a", "S", None, side(20, 1.0, 1.01));
    write_side(t.path(), "S-b", "S", None, side(20, 1.0, 1.0));
    assert_eq!(judge(t.path()).cells[0].verdict, Verdict::Unchanged);
}
