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

/// One process's `/proc/<pid>/stat` figures.
struct Stat {
    ppid: u32,
    /// utime + stime.
    ticks: u64,
    /// cutime + cstime: the children it has waited for.
    reaped: u64,
}

/// `who` is a pid or `self`.
fn stat(who: &str) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    // the command name is in parentheses and may hold spaces: fields start after the last ')'
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        ticks: num(11)? + num(12)?,
        reaped: num(13)? + num(14)?,
    })
}

/// The root's ticks, those of the children it has reaped (cutime + cstime: a backend that ended during the
/// window, like pgbench's when pgbench disconnects, still counts) and those of its live children.
fn tree_ticks(root: u32) -> u64 {
    let mut total = stat(&root.to_string()).map_or(0, |s| s.ticks + s.reaped);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(s) = stat(&name).filter(|s| s.ppid == root) {
                    total += s.ticks;
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
        let server =
            stat(&server.to_string()).ok_or_else(|| anyhow!("server process {server} is gone"))?;
        let me = stat("self").ok_or_else(|| anyhow!("no /proc/self/stat"))?;
        Ok(Self {
            server_ticks: server.ticks,
            postgres_ticks: tree_ticks(postmaster),
            client_ticks: me.ticks,
            children_ticks: me.reaped,
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
