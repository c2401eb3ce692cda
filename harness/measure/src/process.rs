//! This process's memory and CPU time (Linux `/proc` and `getrusage`).

use serde::{Deserialize, Serialize};

/// A `/proc/self/status` field in bytes (`VmRSS`, `VmHWM`...), if readable.
pub fn status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status(&s, field)
}

/// Parses `Field:   1234 kB` from a status text.
pub fn parse_status(text: &str, field: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resets the peak RSS (`VmHWM`) to the current RSS, where the kernel allows it (writing 5 to clear_refs).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time and peak RSS from `getrusage(RUSAGE_SELF)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_bytes: u64,
}

pub fn usage() -> Usage {
    // SAFETY: getrusage writes into the struct we pass; a zeroed rusage is a valid value.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) } == 0;
    if !ok {
        return Usage::default();
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        user_s: tv(r.ru_utime),
        sys_s: tv(r.ru_stime),
        max_rss_bytes: r.ru_maxrss as u64 * 1024,
    }
}

impl Usage {
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
    /// CPU time spent between `earlier` and `self`.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
            max_rss_bytes: self.max_rss_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse() {
        let t = "Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_status(t, "VmHWM"), Some(2048 * 1024));
        assert_eq!(parse_status(t, "VmRSS"), Some(1024 * 1024));
        assert_eq!(parse_status(t, "VmSwap"), None);
        assert!(status_bytes("VmRSS").unwrap_or(1) > 0);
        let a = usage();
        std::hint::black_box((0..3_000_000u64).map(|x| x ^ 7).sum::<u64>());
        assert!(usage().since(&a).cpu_s() >= 0.0);
    }
}
