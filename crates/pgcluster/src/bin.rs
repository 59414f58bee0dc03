//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) of this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools a cluster needs in one folder.
const TOOLS: &[&str] = &["initdb", "pg_ctl", "postgres"];

/// No folder with the server binaries was found: the message says what to install or which variable to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinNotFound {
    /// The folder that was given explicitly (flag or variable) and lacks a tool.
    pub explicit: Option<PathBuf>,
    /// Every place looked at, in order.
    pub searched: Vec<String>,
}

impl std::fmt::Display for BinNotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.explicit {
            Some(dir) => write!(
                f,
                "the PostgreSQL server binaries (initdb, pg_ctl, postgres) are not in {} (NEUROHUB_PG_BIN_DIR / --pg-bin-dir).",
                dir.display()
            )?,
            None => write!(
                f,
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; looked in: {}.",
                self.searched.join(", ")
            )?,
        }
        write!(
            f,
            "\nInstall the PostgreSQL server:\
             \n  Debian/Ubuntu:  sudo apt install postgresql\
             \n  Fedora:         sudo dnf install postgresql-server\
             \n  macOS:          brew install postgresql@16\
             \nor set NEUROHUB_PG_BIN_DIR (--pg-bin-dir) to the folder that holds initdb and pg_ctl,\
             \nor set DATABASE_URL to a PostgreSQL server you already run."
        )
    }
}

impl std::error::Error for BinNotFound {}

fn has_tools(dir: &Path) -> bool {
    TOOLS.iter().all(|t| dir.join(t).is_file())
}

/// The major version of the binaries in `dir` (`pg_ctl --version` → `pg_ctl (PostgreSQL) 15.8`).
pub fn major_version(dir: &Path) -> Option<u32> {
    let out = Command::new(dir.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().last()?;
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Subfolders `<prefix>*<suffix>` of `parent` (e.g. `/usr/lib/postgresql/*/bin`), highest version first.
fn glob_versions(parent: &str, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix(prefix)?;
            if !(rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit() || c == '@')) {
                return None;
            }
            let version: Vec<u32> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            Some((version, e.path().join(suffix)))
        })
        .collect();
    found.sort();
    found.into_iter().rev().map(|(_, p)| p).collect()
}

/// The candidate folders in search order, each with how it was found.
fn candidates() -> Vec<(String, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    out.push((
        "pg_config --bindir".to_string(),
        pg_config.into_iter().collect(),
    ));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("initdb"))
                .filter(|f| f.is_file())
                .filter_map(|f| std::fs::canonicalize(f).ok())
                .filter_map(|f| f.parent().map(Path::to_path_buf))
                .collect()
        })
        .unwrap_or_default();
    out.push(("initdb on PATH".to_string(), on_path));
    out.push((
        "/usr/lib/postgresql/*/bin".to_string(),
        glob_versions("/usr/lib/postgresql", "", "bin"),
    ));
    out.push((
        "/usr/pgsql-*/bin".to_string(),
        glob_versions("/usr", "pgsql-", "bin"),
    ));
    for fixed in ["/usr/local/pgsql/bin", "/usr/bin", "/usr/local/bin"] {
        out.push((fixed.to_string(), vec![PathBuf::from(fixed)]));
    }
    for brew in ["/opt/homebrew/opt", "/usr/local/opt"] {
        out.push((
            format!("{brew}/postgresql*/bin"),
            glob_versions(brew, "postgresql", "bin"),
        ));
    }
    out.push((
        "/Applications/Postgres.app/Contents/Versions/*/bin".to_string(),
        glob_versions("/Applications/Postgres.app/Contents/Versions", "", "bin"),
    ));
    out
}

/// The folder holding `initdb`, `pg_ctl` and `postgres`: `explicit` when given (and only it), otherwise the
/// first of `pg_config --bindir`, `initdb` on PATH, `/usr/lib/postgresql/*/bin` (newest first), `/usr/pgsql-*/bin`,
/// `/usr/local/pgsql/bin`, `/usr/bin`, `/usr/local/bin`, Homebrew's `postgresql*/bin` and Postgres.app. With
/// `prefer_major` (the version an existing data folder was made with) a folder of that major version wins.
pub fn find_bin_dir(
    explicit: Option<&Path>,
    prefer_major: Option<u32>,
) -> Result<PathBuf, BinNotFound> {
    if let Some(dir) = explicit {
        return if has_tools(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(BinNotFound {
                explicit: Some(dir.to_path_buf()),
                searched: vec![dir.display().to_string()],
            })
        };
    }
    let groups = candidates();
    let searched = groups.iter().map(|(label, _)| label.clone()).collect();
    let mut found: Vec<PathBuf> = Vec::new();
    for (_, dirs) in groups {
        for d in dirs {
            if has_tools(&d) && !found.contains(&d) {
                found.push(d);
            }
        }
    }
    if let Some(major) = prefer_major {
        if let Some(d) = found.iter().find(|d| major_version(d) == Some(major)) {
            return Ok(d.clone());
        }
    }
    found.into_iter().next().ok_or(BinNotFound {
        explicit: None,
        searched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_folder_without_the_tools_names_what_to_install() {
        let err = find_bin_dir(Some(Path::new("/nonexistent/pg/bin")), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/pg/bin"), "{msg}");
        for hint in [
            "apt install postgresql",
            "dnf install postgresql-server",
            "brew install postgresql@16",
            "NEUROHUB_PG_BIN_DIR",
            "DATABASE_URL",
        ] {
            assert!(msg.contains(hint), "{hint} missing: {msg}");
        }
    }

    #[test]
    fn versions_sort_newest_first() {
        let dir = std::env::temp_dir().join(format!("pgcluster-glob-{}", std::process::id()));
        for v in ["9.6", "15", "16", "postgresql@14"] {
            std::fs::create_dir_all(dir.join(v)).unwrap();
        }
        let found = glob_versions(dir.to_str().unwrap(), "", "bin");
        let names: Vec<String> = found
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["16", "15", "9.6"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
