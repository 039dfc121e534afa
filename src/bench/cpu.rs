//! CPU time over a workload's measured window: the bench's own (getrusage) and, with
//! `--server-pid`, the server's (`/proc/PID/stat`). On a machine whose cores the client
//! shares with the server, throughput ratios mix the two; CPU per operation tells each
//! server's own cost apart from the client's.

use std::sync::OnceLock;

static SERVER_PID: OnceLock<u32> = OnceLock::new();

/// Names the server process whose CPU time samples include (once per run).
pub fn set_server_pid(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = SERVER_PID.set(pid);
    }
}

/// CPU seconds used so far (user + system).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuSample {
    /// This process, all threads.
    pub client_s: f64,
    /// The server named by `--server-pid`, when it could be read.
    pub server_s: Option<f64>,
}

/// Samples the bench's and the server's CPU time now.
pub fn sample() -> CpuSample {
    CpuSample {
        client_s: own_cpu_s(),
        server_s: SERVER_PID
            .get()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .and_then(|s| proc_stat_cpu_s(&s, clock_ticks_per_s())),
    }
}

fn own_cpu_s() -> f64 {
    // SAFETY: getrusage writes one rusage struct, which lives on this stack frame.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime from a `/proc/PID/stat` line. The command name (field 2) is in parentheses
/// and may hold spaces, so fields are counted from the last `)`: utime and stime are
/// fields 14 and 15 of the line.
fn proc_stat_cpu_s(line: &str, ticks_per_s: f64) -> Option<f64> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (tokio rt) worker) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(proc_stat_cpu_s(line, 100.0), Some(3.0));
        assert_eq!(proc_stat_cpu_s("garbage", 100.0), None);
    }

    #[test]
    fn own_cpu_time_moves_with_work() {
        let a = own_cpu_s();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(30) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(own_cpu_s() > a);
    }

    #[test]
    fn the_server_pid_is_read_from_proc() {
        let me = std::process::id();
        let line = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        assert!(proc_stat_cpu_s(&line, clock_ticks_per_s()).is_some());
    }
}
