//! The raw samples file of a cell: nanoseconds, one per line, in time order (the order the child took them, or for
//! an interleaved cell the order of its turns). One reader and one writer for everyone: the cell's child writes it,
//! the orchestrator pools processes through it, the gate and the report read it back.

use std::path::Path;

/// Writes samples atomically (a temporary file renamed over the path), whole nanoseconds.
pub fn write(path: &Path, samples: &[f64]) -> Result<(), crate::ReportError> {
    let text: String = samples.iter().map(|s| format!("{s:.0}\n")).collect();
    crate::write_atomic(path, text.as_bytes())
}

/// Reads a samples file. Blank lines are skipped; any other line that is not a finite, non-negative number is an
/// error naming the file and the line. An empty file is `Ok(vec![])`: whether no samples is acceptable is the
/// caller's business.
pub fn read(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::with_capacity(text.len() / 8);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => out.push(v),
            _ => {
                return Err(format!(
                    "{}:{}: not a sample: {line:?}",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_round_trip_and_a_bad_line_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.txt");
        super::write(&p, &[1.4, 2.0, 3e6]).unwrap();
        assert_eq!(super::read(&p).unwrap(), vec![1.0, 2.0, 3e6]);
        std::fs::write(&p, "1\n\n2\nx\n").unwrap();
        let e = super::read(&p).unwrap_err();
        assert!(e.ends_with(":4: not a sample: \"x\""), "{e}");
        std::fs::write(&p, "-1\n").unwrap();
        assert!(super::read(&p).is_err());
        std::fs::write(&p, "").unwrap();
        assert_eq!(super::read(&p).unwrap(), Vec::<f64>::new());
        assert!(super::read(&d.path().join("none")).is_err());
    }
}
