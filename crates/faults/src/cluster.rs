//! A private PostgreSQL cluster owned by the program: `initdb` into a temporary directory, `pg_ctl` on a free
//! loopback port, stopped and deleted on drop. The machine's own PostgreSQL is never touched.
//!
//! `initdb` and `postgres` refuse to run as root; when the program runs as root (CI containers) every cluster
//! command runs as the `postgres` system user through `runuser`, and the directory is handed to that user.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running private cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<major>/bin` that has `initdb` (or `NEUROHUB_PG_BIN`).
pub fn pg_bin() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("NEUROHUB_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context(
            "no /usr/lib/postgresql: install the PostgreSQL server package or set NEUROHUB_PG_BIN",
        )?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no initdb under /usr/lib/postgresql/*/bin; set NEUROHUB_PG_BIN"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Cluster {
    /// `initdb` (trust auth, UTF-8) and start on a free port. `fsync=off` is safe here: the operating system
    /// does not crash during a run, so every write PostgreSQL made survives its own crash (`-m immediate`).
    pub fn start() -> Result<Cluster> {
        let bin = pg_bin()?;
        let as_postgres = is_root();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("neurohub-faults-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()?
                .success();
            if !ok {
                bail!("cannot hand {} to the postgres user", dir.display());
            }
        }
        let mut cluster = Cluster {
            dir,
            bin,
            port: free_port()?,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        cluster.ctl_start().or_else(|_| {
            // the port may have been taken between probing and starting: once more on another
            cluster.port = free_port()?;
            cluster.ctl_start()
        })?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        if !out.status.success() {
            bail!(
                "{tool} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn options(&self) -> String {
        format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        )
    }

    fn ctl_start(&self) -> Result<()> {
        let log = self.dir.join("postgres.log");
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-o",
                &self.options(),
            ],
        )
    }

    /// Restart: `fast` (clean shutdown, sessions terminated) or `immediate` (a crash: recovery from WAL).
    pub fn restart(&self, mode: &str) -> Result<()> {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["stop", "-w", "-t", "60", "-m", mode, "-D", path(&data)],
        )?;
        self.ctl_start()
    }

    /// The superuser URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-t",
                "30",
                "-m",
                "immediate",
                "-D",
                path(&data),
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
