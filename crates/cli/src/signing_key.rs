//! The access-token signing key of `up` and `serve`.
//!
//! Every node of a deployment must sign with the same key, or a token issued by one is refused by the next
//! (issue 14: "refuse to start several nodes with a random key"). So:
//! - `serve` — the production command — takes the key from `NEUROHUB_JWT_SECRET` and refuses to start without
//!   it; `--dev` lets it run with a random key that dies with the process (one node, tokens end at restart).
//! - `up` — the quick start — keeps the key in a file (`NEUROHUB_JWT_SECRET_FILE`, default `var/jwt-secret`)
//!   when the variable is unset: made once, random, readable by the owner only, and reused by every later `up`
//!   on the machine, so signed-in stations survive a restart with no configuration. The file is created
//!   atomically (written under a temporary name, then hard-linked into place, which fails when it exists), so two
//!   `up`s started at once end up with one key.

use crate::commands::CliError;
use neurohub_core::auth::tokens::TokenKeys;
use neurohub_core::config::ServeArgs;
use std::path::Path;

/// Shortest accepted secret, in bytes.
const MIN_LEN: usize = 32;

/// Which command asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Serve { dev: bool },
}

/// The key for this process, or a configuration error (exit code 2) that says what to set.
pub fn signing_key(serve: &ServeArgs, mode: Mode) -> Result<Vec<u8>, CliError> {
    match (&serve.jwt_secret, mode) {
        (Some(s), _) if s.len() >= MIN_LEN => Ok(s.as_bytes().to_vec()),
        (Some(_), _) => Err(CliError::Config(format!(
            "NEUROHUB_JWT_SECRET must be at least {MIN_LEN} bytes"
        ))),
        (None, Mode::Up) => from_file(&serve.jwt_secret_file),
        (None, Mode::Serve { dev: true }) => {
            tracing::warn!(
                "--dev: NEUROHUB_JWT_SECRET is not set; signing with a random key, so tokens end with this process \
                 and no other node accepts them"
            );
            Ok(TokenKeys::random_secret())
        }
        (None, Mode::Serve { dev: false }) => Err(CliError::Config(
            "NEUROHUB_JWT_SECRET is not set: every node must sign tokens with the same key, so `serve` needs one \
             (at least 32 bytes, e.g. `openssl rand -hex 32`); for a single development node pass --dev"
                .into(),
        )),
    }
}

/// Read `file`, or make it with a new random key when it does not exist.
fn from_file(file: &Path) -> Result<Vec<u8>, CliError> {
    let err = |what: &str, e: std::io::Error| {
        CliError::Config(format!(
            "cannot {what} the signing key file {} (NEUROHUB_JWT_SECRET_FILE): {e}",
            file.display()
        ))
    };
    match std::fs::read_to_string(file) {
        Ok(s) => return check(file, s.trim()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("read", e)),
    }
    let key: String = TokenKeys::random_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    create_once(file, &key).map_err(|e| err("create", e))?;
    // whoever won the race, the file now holds the one key
    let s = std::fs::read_to_string(file).map_err(|e| err("read", e))?;
    if s.trim() == key {
        tracing::info!(file = %file.display(), "made a new token signing key");
    }
    check(file, s.trim())
}

fn check(file: &Path, key: &str) -> Result<Vec<u8>, CliError> {
    if key.len() < MIN_LEN {
        return Err(CliError::Config(format!(
            "the signing key in {} is shorter than {MIN_LEN} bytes; delete the file to make a new one",
            file.display()
        )));
    }
    Ok(key.as_bytes().to_vec())
}

/// Create `file` holding `key` (owner-only) unless it exists; never overwrites.
fn create_once(file: &Path, key: &str) -> std::io::Result<()> {
    // a name of its own per attempt (threads of one process race too)
    let tmp = file.with_extension(format!("tmp-{}-{}", std::process::id(), &key[..16]));
    crate::commands::create_owner_only(&tmp, key)?;
    let linked = std::fs::hard_link(&tmp, file);
    std::fs::remove_file(&tmp)?;
    match linked {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut v = vec!["t"];
        v.extend_from_slice(extra);
        T::parse_from(v).serve
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("neurohub-key-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn serve_without_a_secret_is_refused_unless_dev() {
        // NEUROHUB_JWT_SECRET must not leak in from the environment of the test run
        let a = args(&["--jwt-secret-file", "/nonexistent/never-used"]);
        if a.jwt_secret.is_some() {
            return;
        }
        match signing_key(&a, Mode::Serve { dev: false }) {
            Err(CliError::Config(m)) => assert!(m.contains("--dev"), "{m}"),
            other => panic!("{other:?}"),
        }
        let k1 = signing_key(&a, Mode::Serve { dev: true }).unwrap();
        let k2 = signing_key(&a, Mode::Serve { dev: true }).unwrap();
        assert_ne!(k1, k2, "a dev key is random per process");
        assert!(!Path::new("/nonexistent/never-used").exists());
    }

    #[test]
    fn a_short_secret_is_refused_in_every_mode() {
        let a = args(&["--jwt-secret", "short"]);
        for m in [
            Mode::Up,
            Mode::Serve { dev: true },
            Mode::Serve { dev: false },
        ] {
            assert!(
                matches!(signing_key(&a, m), Err(CliError::Config(_))),
                "{m:?}"
            );
        }
        let a = args(&["--jwt-secret", &"k".repeat(32)]);
        assert_eq!(
            signing_key(&a, Mode::Serve { dev: false }).unwrap(),
            "k".repeat(32).as_bytes()
        );
    }

    #[test]
    fn up_makes_the_key_file_once_owner_only_and_reuses_it() {
        let d = dir("reuse");
        let file = d.join("nested/jwt-secret");
        let a = args(&["--jwt-secret-file", file.to_str().unwrap()]);
        if a.jwt_secret.is_some() {
            return;
        }
        let k1 = signing_key(&a, Mode::Up).unwrap();
        assert_eq!(k1.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(
            signing_key(&a, Mode::Up).unwrap(),
            k1,
            "the next up reuses the key"
        );
        // concurrent first starts agree on one key
        let d2 = dir("race");
        let file2 = d2.join("jwt-secret");
        let a2 = args(&["--jwt-secret-file", file2.to_str().unwrap()]);
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| signing_key(&a2, Mode::Up).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
        // a file too short is refused, not silently replaced
        std::fs::write(&file, "short\n").unwrap();
        assert!(matches!(
            signing_key(&a, Mode::Up),
            Err(CliError::Config(_))
        ));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&d2);
    }
}
