//! A PostgreSQL cluster owned by the program, in a folder of its own: `initdb` once, `pg_ctl` start / stop /
//! status, and the URL to reach it. Two uses:
//!
//! - [`Cluster`]: a lasting cluster in a folder (`neurohub up` / `neurohub db`, default `./var/postgres`): trust
//!   only on its own Unix socket inside the folder (mode 0700), no TCP unless asked (then password auth there);
//! - [`TempCluster`]: a throw-away cluster in a temporary folder on a free loopback port (trust), stopped and
//!   deleted on drop (the fault tests).
//!
//! Only clusters in their own folders are ever started or stopped here: the machine's own PostgreSQL is never
//! touched. `initdb` and `postgres` refuse to run as root; when the program runs as root (CI containers) every
//! cluster command runs as the `postgres` system user through `runuser`, and the folder is handed to that user.
//!
//! Layout of the folder: `data/` (PGDATA, `data/neurohub.conf` rewritten at every start with the listening
//! settings), the socket `.s.PGSQL.<port>`, and the server log `postgres.log`.

mod bin;

pub use bin::{find_bin_dir, major_version, BinNotFound};

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No server binaries: what to install or which variable to set.
    #[error(transparent)]
    NotFound(#[from] BinNotFound),
    /// A cluster command failed (its output included).
    #[error("{0}")]
    Failed(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// What `pg_ctl status` says about the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No `initdb` has run there yet.
    NotInitialized,
    Stopped,
    Running,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::NotInitialized => "not initialized",
            Status::Stopped => "stopped",
            Status::Running => "running",
        }
    }
}

/// `pg_ctl stop -m`: `Fast` is a clean shutdown (sessions terminated, checkpoint); `Immediate` is a crash
/// (recovery from WAL at the next start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    Smart,
    Fast,
    Immediate,
}

impl StopMode {
    fn arg(self) -> &'static str {
        match self {
            StopMode::Smart => "smart",
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// Whether this process runs as root (then cluster commands run as the `postgres` user).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A free loopback TCP port (free when probed).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The default port: also the socket's name (`.s.PGSQL.5432`) when no TCP is asked for.
pub const DEFAULT_PORT: u16 = 5432;

/// A cluster in its own folder (see the crate docs for the layout).
#[derive(Debug, Clone)]
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    /// TCP listen address, none = Unix socket only.
    tcp: Option<String>,
    /// `trust` (temporary clusters) or `scram-sha-256` for TCP connections.
    host_auth: &'static str,
    settings: Vec<(String, String)>,
    no_sync: bool,
}

impl Cluster {
    /// The cluster in `root` (made absolute; need not exist yet) run with the binaries in `bin`: Unix socket only
    /// on [`DEFAULT_PORT`]'s socket name.
    pub fn new(root: &Path, bin: PathBuf) -> Result<Cluster> {
        let root = std::path::absolute(root)
            .map_err(io(format!("cannot resolve the folder {}", root.display())))?;
        Ok(Cluster {
            root,
            bin,
            as_postgres: is_root(),
            port: DEFAULT_PORT,
            tcp: None,
            host_auth: "scram-sha-256",
            settings: Vec::new(),
            no_sync: false,
        })
    }

    /// Also listen on TCP `addr:port` (password authentication there: trust is for the socket only).
    pub fn with_tcp(mut self, addr: &str, port: u16) -> Cluster {
        self.tcp = Some(addr.to_string());
        self.port = port;
        self
    }

    /// An extra server setting (`-c name=value`), applied at every start.
    pub fn with_setting(mut self, name: &str, value: &str) -> Cluster {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The major version the data folder under `root` was made with (`data/PG_VERSION`), if any.
    pub fn data_major(root: &Path) -> Option<u32> {
        std::fs::read_to_string(root.join("data").join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    fn prepare_root(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root).map_err(io(format!(
            "cannot create the folder {}",
            self.root.display()
        )))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
                .map_err(io(format!("cannot restrict {}", self.root.display())))?;
        }
        if self.as_postgres {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&self.root)
                .status()
                .map_err(io("cannot run chown"))?
                .success();
            if !ok {
                return Err(Error::Failed(format!(
                    "cannot hand {} to the postgres user (running as root, the server runs as `postgres`)",
                    self.root.display()
                )));
            }
        }
        Ok(())
    }

    /// Run a tool of the bin folder (as `postgres` when root) in the folder; its output on failure.
    fn run(&self, tool: &str, args: &[&str]) -> Result<std::process::Output> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir(&self.root)
            .output()
            .map_err(io(format!("cannot run {}", exe.display())))
    }

    fn run_ok(&self, tool: &str, args: &[&str]) -> Result<()> {
        let out = self.run(tool, args)?;
        if !out.status.success() {
            return Err(Error::Failed(format!(
                "{tool} {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// `initdb` (UTF8, C locale, superuser `postgres`, trust on the Unix socket only) unless done already;
    /// true when it ran now.
    pub fn ensure_initialized(&self) -> Result<bool> {
        if self.is_initialized() {
            return Ok(false);
        }
        self.prepare_root()?;
        let data = self.data_dir();
        if data.exists()
            && std::fs::read_dir(&data)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(Error::Failed(format!(
                "{} exists but holds no PostgreSQL data folder (no PG_VERSION): move it away or choose another folder",
                data.display()
            )));
        }
        let auth_host = format!("--auth-host={}", self.host_auth);
        let mut args = vec![
            "-D",
            path(&data)?,
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            &auth_host,
        ];
        if self.no_sync {
            args.push("--no-sync");
        }
        self.run_ok("initdb", &args)?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(io("cannot read postgresql.conf"))?;
        text.push_str(
            "\n# neurohub: where and how this private cluster listens (rewritten at every start)\n\
             include_if_exists = 'neurohub.conf'\n",
        );
        std::fs::write(&conf, text).map_err(io("cannot write postgresql.conf"))?;
        Ok(true)
    }

    /// The settings file included by postgresql.conf, rewritten at every start (the port or TCP may change).
    fn write_settings(&self) -> Result<()> {
        let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let mut text = String::from(
            "# Written by neurohub at every start of this cluster; put your own settings in postgresql.conf\n\
             # (or ALTER SYSTEM): those in this file win.\n",
        );
        text.push_str(&format!("port = {}\n", self.port));
        text.push_str(&format!(
            "listen_addresses = {}\n",
            quote(self.tcp.as_deref().unwrap_or(""))
        ));
        text.push_str(&format!(
            "unix_socket_directories = {}\n",
            quote(path(&self.root)?)
        ));
        text.push_str("unix_socket_permissions = 0700\n");
        for (k, v) in &self.settings {
            text.push_str(&format!("{k} = {}\n", quote(v)));
        }
        let file = self.data_dir().join("neurohub.conf");
        std::fs::write(&file, text).map_err(io(format!("cannot write {}", file.display())))?;
        if self.as_postgres {
            let _ = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&file)
                .status();
        }
        Ok(())
    }

    /// `pg_ctl status`.
    pub fn status(&self) -> Result<Status> {
        if !self.is_initialized() {
            return Ok(Status::NotInitialized);
        }
        let data = self.data_dir();
        let out = self.run("pg_ctl", &["status", "-D", path(&data)?])?;
        match out.status.code() {
            Some(0) => Ok(Status::Running),
            Some(3) => Ok(Status::Stopped),
            _ => Err(Error::Failed(format!(
                "pg_ctl status -D {} failed: {}{}",
                data.display(),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }

    /// `pg_ctl start -w` (the folder must be initialized); the server log's last lines on failure.
    pub fn start(&self) -> Result<()> {
        self.write_settings()?;
        let data = self.data_dir();
        let log = self.log_file();
        let result = self.run_ok(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path(&data)?,
                "-l",
                path(&log)?,
            ],
        );
        result.map_err(|e| {
            let tail: Vec<String> = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(8)
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Error::Failed(format!(
                "{e}\nlast lines of {}:\n{}",
                log.display(),
                tail.join("\n")
            ))
        })
    }

    /// `pg_ctl stop -w` in `mode`.
    pub fn stop(&self, mode: StopMode) -> Result<()> {
        let data = self.data_dir();
        self.run_ok(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-t",
                "60",
                "-m",
                mode.arg(),
                "-D",
                path(&data)?,
            ],
        )
    }

    /// The port of the running server (`postmaster.pid`'s fourth line), which names its socket.
    pub fn live_port(&self) -> Option<u16> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .nth(3)?
            .trim()
            .parse()
            .ok()
    }

    /// The superuser URL of database `db` over the Unix socket in the folder (libpq and sqlx both read the
    /// `host=` parameter as the socket folder); the running server's port names the socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{db}?host={}",
            self.live_port().unwrap_or(self.port),
            encode_query_value(&self.root.to_string_lossy())
        )
    }

    /// The superuser URL of `db` over TCP (only when the cluster listens there).
    pub fn tcp_url(&self, db: &str) -> Option<String> {
        self.tcp
            .as_ref()
            .map(|a| format!("postgres://postgres@{a}:{}/{db}", self.port))
    }
}

fn encode_query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn path(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| Error::Failed(format!("{} is not valid UTF-8", p.display())))
}

/// A throw-away cluster: a temporary folder, TCP on a free loopback port with trust, `fsync=off`; stopped
/// (immediately) and deleted on drop.
pub struct TempCluster {
    cluster: Cluster,
}

impl TempCluster {
    /// `initdb` and start on a free port with the binaries of [`find_bin_dir`] (`NEUROHUB_PG_BIN_DIR` or
    /// `NEUROHUB_PG_BIN` when set). `fsync=off` is safe here: the operating system does not crash during a run,
    /// so every write PostgreSQL made survives its own crash (`-m immediate`).
    pub fn start() -> Result<TempCluster> {
        let explicit = std::env::var_os("NEUROHUB_PG_BIN_DIR")
            .or_else(|| std::env::var_os("NEUROHUB_PG_BIN"))
            .map(PathBuf::from);
        let bin = find_bin_dir(explicit.as_deref(), None)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("neurohub-pg-{}-{stamp}", std::process::id()));
        let mut cluster = Cluster::new(&dir, bin)?
            .with_tcp("127.0.0.1", free_port().map_err(io("no free port"))?)
            .with_setting("fsync", "off")
            .with_setting("max_connections", "200");
        cluster.host_auth = "trust";
        cluster.no_sync = true;
        let temp = TempCluster { cluster };
        temp.cluster.ensure_initialized()?;
        if temp.cluster.start().is_err() {
            // the port may have been taken between probing and starting: once more on another
            let mut temp = temp;
            temp.cluster.port = free_port().map_err(io("no free port"))?;
            temp.cluster.start()?;
            return Ok(temp);
        }
        Ok(temp)
    }

    /// A hot-standby streaming replica of `primary` in a temporary folder of its own, on another free loopback
    /// port: `pg_basebackup -R -X stream` from the primary (whose initdb pg_hba trusts replication from the
    /// socket and 127.0.0.1; `wal_level = replica` and `max_wal_senders` are PostgreSQL's defaults), then
    /// started with `hot_standby = on`. Stopped and deleted on drop like any temporary cluster.
    pub fn replica_of(primary: &TempCluster) -> Result<TempCluster> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "neurohub-pg-replica-{}-{stamp}",
            std::process::id()
        ));
        let mut cluster = Cluster::new(&dir, primary.cluster.bin.clone())?
            .with_tcp("127.0.0.1", free_port().map_err(io("no free port"))?)
            .with_setting("fsync", "off")
            .with_setting("max_connections", "200")
            .with_setting("hot_standby", "on")
            // keep reporting to the primary often, so its pg_stat_replication is current
            .with_setting("wal_receiver_status_interval", "1s");
        cluster.host_auth = "trust";
        cluster.no_sync = true;
        let temp = TempCluster { cluster };
        temp.cluster.prepare_root()?;
        let data = temp.cluster.data_dir();
        let source = format!(
            "host=127.0.0.1 port={} user=postgres application_name=neurohub_replica",
            primary.port()
        );
        temp.cluster.run_ok(
            "pg_basebackup",
            &[
                "-D",
                path(&data)?,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-d",
                &source,
            ],
        )?;
        temp.cluster.start()?;
        Ok(temp)
    }

    /// Restart: `Fast` (clean shutdown, sessions terminated) or `Immediate` (a crash: recovery from WAL).
    pub fn restart(&self, mode: StopMode) -> Result<()> {
        self.cluster.stop(mode)?;
        self.cluster.start()
    }

    /// The superuser URL of database `db` (TCP).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.cluster.port)
    }

    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop(StopMode::Immediate);
        let _ = std::fs::remove_dir_all(&self.cluster.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_names_the_folder_as_host() {
        let c = Cluster::new(Path::new("/tmp/a b&c"), PathBuf::from("/bin")).unwrap();
        assert_eq!(
            c.url("neurohub"),
            "postgres://postgres@localhost:5432/neurohub?host=/tmp/a%20b%26c"
        );
        assert_eq!(c.tcp_url("neurohub"), None);
        let c = c.with_tcp("127.0.0.1", 6543);
        assert_eq!(
            c.tcp_url("x").as_deref(),
            Some("postgres://postgres@127.0.0.1:6543/x")
        );
    }
}
