//! The run's cost on this machine (Linux): CPU time of the process's threads, peak resident
//! memory.
//!
//! Part of the accuracy harness (see [`super`]); knows nothing of the engine.

use std::time::Duration;

/// CPU time the live threads of this process have used (Linux, the `schedstat` of each
/// task in `/proc/self/task`), if known: the engine's own thread and the pool it reads
/// records and counts pairs on (those live as long as the process). On a shared machine it
/// varies less than the wall clock.
pub fn process_cpu_time() -> Option<Duration> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // a thread that ended since the listing has no time left to count
        let Ok(s) = std::fs::read_to_string(path) else {
            continue;
        };
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
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
