//! CPU time and memory from `/proc`: the server process, and PostgreSQL (the postmaster and every process it
//! started: backends, checkpointer, WAL writer …), read before and after each measured window.

use anyhow::{anyhow, Context, Result};
use std::path::Path;

/// CPU seconds used during one window: the server, PostgreSQL, and this process (the load tool), plus the
/// processes this one waited for in the window (pgbench) — so a run can say where the machine's CPU went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    pub server_cpu_s: f64,
    pub postgres_cpu_s: f64,
    /// The load tool itself (neurohub-bench: HTTP client, histograms).
    pub client_cpu_s: f64,
    /// Child processes that ended in the window (pgbench).
    pub children_cpu_s: f64,
    pub server_rss_kb: u64,
}

pub struct Snapshot {
    server_ticks: u64,
    postgres_ticks: u64,
    client_ticks: u64,
    children_ticks: u64,
}

/// Clock ticks per second of `/proc/*/stat` (USER_HZ; 100 on every Linux build in use).
const TICKS: f64 = 100.0;

/// utime + stime and the parent pid of one process.
fn stat(pid: u32) -> Option<(u64, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name is in parentheses and may hold spaces: fields start after the last ')'
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

/// cutime + cstime of `pid`: the children it has waited for.
fn reaped_ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(at) = s.rfind(')') else { return 0 };
    let f: Vec<&str> = s[at + 2..].split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(13) + get(14)
}

/// This process's utime + stime, and cutime + cstime (the children it has waited for).
fn self_ticks() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    let Some(at) = s.rfind(')') else {
        return (0, 0);
    };
    let f: Vec<u64> = s[at + 2..]
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    (get(11) + get(12), get(13) + get(14))
}

/// The root's ticks, those of the children it has reaped (cutime + cstime: a backend that ended during the
/// window, like pgbench's when pgbench disconnects, still counts) and those of its live children.
fn tree_ticks(root: u32) -> u64 {
    let mut total = stat(root).map(|(t, _)| t).unwrap_or(0) + reaped_ticks(root);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if let Some((t, ppid)) = stat(pid) {
                    if ppid == root {
                        total += t;
                    }
                }
            }
        }
    }
    total
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

impl Snapshot {
    pub fn take(server: u32, postmaster: u32) -> Result<Self> {
        let (server_ticks, _) =
            stat(server).ok_or_else(|| anyhow!("server process {server} is gone"))?;
        let (client_ticks, children_ticks) = self_ticks();
        Ok(Self {
            server_ticks,
            postgres_ticks: tree_ticks(postmaster),
            client_ticks,
            children_ticks,
        })
    }

    /// What was used since `before`; the RSS is read now.
    pub fn since(&self, before: &Snapshot) -> Usage {
        Usage {
            server_cpu_s: self.server_ticks.saturating_sub(before.server_ticks) as f64 / TICKS,
            postgres_cpu_s: self.postgres_ticks.saturating_sub(before.postgres_ticks) as f64
                / TICKS,
            client_cpu_s: self.client_ticks.saturating_sub(before.client_ticks) as f64 / TICKS,
            children_cpu_s: self.children_ticks.saturating_sub(before.children_ticks) as f64
                / TICKS,
            server_rss_kb: 0,
        }
    }
}

/// The server's resident memory now.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:")
}

/// The server's resident memory now, split: anonymous (heap, stacks) and file-backed (mostly the binary's code
/// pages, which the kernel maps ahead of use and can drop at any time).
pub fn rss_split_kb(pid: u32) -> (u64, u64) {
    (
        status_kb(pid, "RssAnon:").unwrap_or(0),
        status_kb(pid, "RssFile:").unwrap_or(0),
    )
}

/// The server's peak resident memory over its life.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmHWM:")
}

/// The postmaster's pid, from the first line of `postmaster.pid` in the data folder.
pub fn postmaster_pid(data: &Path) -> Result<u32> {
    let f = data.join("postmaster.pid");
    let s = std::fs::read_to_string(&f).with_context(|| format!("read {}", f.display()))?;
    s.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| anyhow!("{} has no pid on its first line", f.display()))
}
