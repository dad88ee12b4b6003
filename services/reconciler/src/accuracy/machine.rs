//! The run's cost on this machine (Linux): CPU time of a thread, peak resident memory.
//!
//! Part of the accuracy harness (see [`super`]); knows nothing of the engine.

use std::time::Duration;

/// CPU time this thread has used (Linux, `/proc/thread-self/schedstat`), if known: on a
/// shared machine it varies less than the wall clock.
pub fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Resets the peak resident memory of this process to what it uses now (Linux), so that
/// [`peak_rss_bytes`] measures from here. Returns whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
