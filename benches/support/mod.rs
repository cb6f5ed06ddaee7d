//! Measurements the benchmarks share.

/// A memory figure of a process in MB, from `/proc/{process}/status` (`None` where there
/// is no /proc or the process is gone). `process` is `self` or a pid; `field` is
/// `VmRSS` (resident now) or `VmHWM` (the peak resident so far).
pub fn memory_megabytes(process: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| {
                    line.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with(':'))
                })
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb / 1024)
        })
}
