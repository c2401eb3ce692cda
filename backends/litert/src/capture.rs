//! LiteRT, TFLite and Dawn log to the process's stderr (fd 2) from C++; backends never print. While a model is
//! opened, fd 2 points at a temp file; its error lines become part of the error message when opening fails.
//! The redirect is process-wide: another thread writing to stderr meanwhile lands in the file too.

use std::io::{Read, Seek};

/// Runs `f` with fd 2 redirected; returns its result and the error lines it logged.
pub(crate) fn stderr_of<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let Ok(mut file) = tempfile::tempfile() else {
        return (f(), vec![]);
    };
    // SAFETY: plain descriptor juggling; fd 2 is restored before returning, whatever `f` did.
    let saved = unsafe { libc::dup(2) };
    if saved < 0 {
        return (f(), vec![]);
    }
    let redirected = unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&file), 2) } >= 0;
    let out = f();
    // SAFETY: as above.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    if !redirected {
        return (out, vec![]);
    }
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let lines = text
        .lines()
        .filter(|l| {
            l.starts_with("ERROR") || l.contains("error:") && !l.contains("XDG_RUNTIME_DIR")
        })
        .map(|l| l.trim().to_string())
        .collect();
    (out, lines)
}
