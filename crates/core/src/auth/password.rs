//! Argon2id password hashing (PHC strings), with a constant-cost path for unknown users, and the rules for new
//! passwords.
//!
//! Passwords are compared as Unicode NFKC (RFC 8265's OpaqueString profile, NIST SP 800-63B §5.1.1.2), so a password
//! typed in NFD on one keyboard matches the one set in NFC on another; ASCII is unchanged, so hashes made before
//! normalization still verify. New passwords need 12+ characters and must not be easy to guess: zxcvbn (Dropbox's
//! estimator, whose dictionaries ship in the binary: the 30,000 most common leaked passwords, English words, names,
//! keyboard patterns, dates, repeats and sequences) must estimate at least 10^10 guesses (score 3 of 4).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Minimum length for new passwords: long passphrases beat composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_LEN: usize = 12;
/// Argon2 input is bounded so a hostile client cannot make us hash megabytes.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Argon2's memory per hash (KiB): 7 MiB (see [`argon2`]).
pub const HASH_MEMORY_KIB: u32 = 7 * 1024;

/// Above this size glibc's malloc serves an allocation with its own mapping and unmaps it when it is freed.
const MMAP_THRESHOLD: usize = 4 << 20;

/// Each hash allocates argon2's block ([`HASH_MEMORY_KIB`]; 19 MiB when this was measured) and frees it 20 ms
/// later. glibc serves blocks that large with mmap at first, but then raises its mmap threshold to the size of the
/// freed block (its dynamic threshold), so every later block comes from the heap arena of the thread that hashes — a
/// blocking-pool thread — and stays there. Measured on the release build: 6 sign-ins one after another took the
/// server's anonymous memory from 8.7 to 106 MB, 6 more at once to 223 MB (one block kept per arena); with the
/// threshold pinned at 4 MiB it stayed at 9 MB. Pinning it (which also switches the dynamic adjustment off) is
/// glibc's documented `mallopt(M_MMAP_THRESHOLD)`; elsewhere this is a no-op.
fn release_hash_memory_after_use() {
    static PINNED: std::sync::Once = std::sync::Once::new();
    PINNED.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets malloc's tuning parameters (under its own lock); no memory is touched.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
    });
}

fn argon2() -> Argon2<'static> {
    release_hash_memory_after_use();
    // One of OWASP's five Argon2id minimums, which its Password Storage Cheat Sheet rates as equal defences
    // (46 MiB × 1, 19 MiB × 2, 12 MiB × 3, 9 MiB × 4, 7 MiB × 5 iterations; 1 lane): the one with the least memory
    // per hash, because sign-ins come in bursts (a shift change) and each concurrent one holds its block — 19 MiB
    // each took the server from 40 MB to 59 MB for a single sign-in. About the same CPU (memory × passes: 35 vs
    // 38 MiB). Hashes made with other parameters still verify: the PHC string carries its own.
    let params = Params::new(HASH_MEMORY_KIB, 5, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The form a password is hashed and compared in: Unicode NFKC.
pub fn normalize(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

/// Hash a password (normalized) into a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(normalize(password).as_bytes(), &salt)?
        .to_string())
}

/// Verify a password (normalized) against a stored PHC string. A malformed hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(normalize(password).as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The lowest zxcvbn score a new password may have (3: about 10^10 guesses, "safely unguessable" for an online
/// attack with throttling; 4 is not required, so long passphrases of common words stay allowed).
pub const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Three;

/// Spend the same effort as a real verification, so response time does not reveal whether a username exists.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("dummy password for timing").expect("hash"));
    let _ = verify_password(password, phc);
}

/// Validate a new password; the message says why it is refused and is safe to show.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!("password must be at most {MAX_PASSWORD_LEN} bytes"));
    }
    let normalized = normalize(password);
    if normalized.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if normalized.trim().is_empty() {
        return Err("password must not be only spaces".into());
    }
    let estimate = zxcvbn::zxcvbn(&normalized, &[]);
    if estimate.score() < MIN_STRENGTH {
        let mut why = String::from("password is too easy to guess");
        if let Some(fb) = estimate.feedback() {
            if let Some(w) = fb.warning() {
                why.push_str(&format!(" ({w})"));
            }
            let tips: Vec<String> = fb.suggestions().iter().map(|s| s.to_string()).collect();
            if !tips.is_empty() {
                why.push_str(&format!("; {}", tips.join(" ")));
            }
        }
        why.push_str("; a passphrase of four or more unrelated words works well");
        return Err(why);
    }
    Ok(())
}

/// A random password for generated accounts (first admin): 24 chars from an unambiguous alphabet.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn salts_differ() {
        assert_ne!(
            hash_password("same password!").unwrap(),
            hash_password("same password!").unwrap()
        );
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(300)).is_err());
        let g = generate_password();
        assert_eq!(g.len(), 24);
        assert!(check_new_password(&g).is_ok());
        // passphrases of unrelated words pass
        for ok in [
            "correct horse battery staple",
            "access log test password",
            "violet tram kettle orbit",
        ] {
            assert_eq!(check_new_password(ok), Ok(()), "{ok}");
        }
    }

    /// Long enough is not good enough: common, patterned and trivially weak passwords are refused, saying why.
    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "            ",
            "password1234",
            "123456789012",
            "qwertyuiopas",
            "aaaaaaaaaaaa",
            "abcdefghijkl",
            "iloveyou1234",
            "Password123!",
        ] {
            let e = check_new_password(weak).expect_err(weak);
            assert!(
                e.contains("too easy to guess") || e.contains("only spaces"),
                "{weak}: {e}"
            );
        }
        let e = check_new_password("password1234").unwrap_err();
        assert!(e.contains("passphrase"), "{e}");
    }

    /// NFKC: the same password typed with a decomposed accent (NFD) or full-width letters verifies against the
    /// hash of the composed (NFC) one; ASCII is untouched.
    #[test]
    fn passwords_are_compared_in_nfkc() {
        let nfc = "caf\u{e9} crème brûlée 42";
        let nfd = "cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e 42";
        assert_ne!(nfc, nfd);
        let h = hash_password(nfc).unwrap();
        assert!(verify_password(nfd, &h));
        assert!(verify_password("\u{ff43}af\u{e9} crème brûlée 42", &h)); // full-width c
        assert_eq!(normalize("plain ascii"), "plain ascii");
    }
}
