//! HTTPS without a reverse proxy (`--tls-cert` / `--tls-key`): a real TLS handshake over loopback with a
//! certificate made in the test, HSTS on every answer over TLS and never over plain HTTP, and one clear error for
//! each unusable certificate or key.

use crate::helpers::TestApp;
use neurohub_server::tls::load_server_config;
use neurohub_server::HttpOptions;
use sqlx::PgPool;
use std::path::PathBuf;

/// A folder of the test's own (removed on drop).
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "neurohub-tls-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.0.join(file);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate");
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

#[sqlx::test(migrations = false)]
async fn https_answers_with_hsts_and_plain_http_without(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dir = Dir::new("serve");
    let (cert_pem, key_pem) = self_signed();
    let cert = dir.write("cert.pem", &cert_pem);
    let key = dir.write("key.pem", &key_pem);
    let config = load_server_config(&cert, &key).expect("usable certificate");
    let addr = app
        .serve_with(
            HttpOptions {
                tls: true,
                ..Default::default()
            },
            Some(config),
        )
        .await;
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .https_only(true)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());

    // a real request over TLS, and a signed-in one
    let res = trusting.get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let login: serde_json::Value = trusting
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("signed in over TLS");
    let me = trusting
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.headers().contains_key("strict-transport-security"));
    // problems carry it too (the header is the outermost layer)
    let missing = trusting
        .get(format!("{base}/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("strict-transport-security"));

    // a client that does not trust the certificate gets no answer, and neither does plain HTTP on the TLS port
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{base}/livez"))
        .send()
        .await
        .is_err());
    let plain = app.client.get(format!("http://{addr}/livez")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // the plain-HTTP server sends no HSTS
    let res = app.client.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("strict-transport-security"));
}

#[test]
fn unusable_certificates_and_keys_are_one_clear_error_each() {
    let dir = Dir::new("errors");
    let (cert_pem, key_pem) = self_signed();
    let (_, other_key_pem) = self_signed();
    let cert = dir.write("cert.pem", &cert_pem);
    let key = dir.write("key.pem", &key_pem);
    let other_key = dir.write("other-key.pem", &other_key_pem);
    let garbage = dir.write("garbage.pem", "not a certificate\n");
    let missing = dir.0.join("missing.pem");

    assert!(load_server_config(&cert, &key).is_ok());
    let e = load_server_config(&cert, &other_key).unwrap_err();
    assert!(e.contains("does not belong to the certificate"), "{e}");
    let e = load_server_config(&missing, &key).unwrap_err();
    assert!(
        e.contains("cannot read the TLS certificate") && e.contains("missing.pem"),
        "{e}"
    );
    let e = load_server_config(&cert, &missing).unwrap_err();
    assert!(e.contains("cannot read the TLS key"), "{e}");
    let e = load_server_config(&garbage, &key).unwrap_err();
    assert!(e.contains("holds no PEM certificate"), "{e}");
    let e = load_server_config(&cert, &garbage).unwrap_err();
    assert!(e.contains("no usable PEM private key"), "{e}");
    // a certificate file given as the key
    let e = load_server_config(&cert, &cert).unwrap_err();
    assert!(e.contains("no usable PEM private key"), "{e}");
}
