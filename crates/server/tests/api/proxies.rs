//! Behind a reverse proxy (`--trusted-proxies`): the client address in audit rows and in login throttling comes
//! from `X-Forwarded-For` only when the TCP peer is a trusted proxy, taking the right-most untrusted hop; from any
//! other peer the header is ignored. Two loopback addresses play the two peers: 127.0.0.1 is the trusted proxy,
//! 127.0.0.2 a client that forges the header.

use crate::helpers::{test_settings, TestApp, PASSWORD};
use neurohub_core::auth::Role;
use neurohub_core::client_addr::{parse_cidr, ProxyHeader, TrustedProxies};
use neurohub_server::HttpOptions;
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::time::Duration;

const PROXY: [u8; 4] = [127, 0, 0, 1];
const OTHER: [u8; 4] = [127, 0, 0, 2];

async fn behind_proxy(pool: PgPool) -> (TestApp, SocketAddr) {
    let mut settings = test_settings();
    settings.throttle.free_failures = 2;
    // long enough that a throttled key stays throttled for the whole test
    settings.throttle.backoff_base = Duration::from_secs(600);
    let app = TestApp::spawn_with(pool, settings).await;
    let addr = app
        .serve_with(
            HttpOptions {
                trusted_proxies: TrustedProxies::new(
                    vec![parse_cidr("127.0.0.1/32").unwrap()],
                    ProxyHeader::XForwardedFor,
                ),
                ..Default::default()
            },
            None,
        )
        .await;
    (app, addr)
}

/// Create a product model from `from` with `headers`; the client address its audit row carries.
async fn audited_ip(
    app: &TestApp,
    addr: SocketAddr,
    from: [u8; 4],
    code: &str,
    headers: &[(&str, &str)],
) -> String {
    let mut req = TestApp::client_from(from)
        .post(format!("http://{addr}/api/v1/product-models"))
        .bearer_auth(app.token(Role::Manager))
        .json(&json!({"model_code": code, "model_name": "behind a proxy"}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 201);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    sqlx::query_scalar(
        "SELECT client_ip FROM audit_logs WHERE request_id = $1 AND table_name = 'product_models'",
    )
    .bind(&request_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn audit_rows_carry_the_forwarded_address_only_from_a_trusted_proxy(pool: PgPool) {
    let (app, addr) = behind_proxy(pool).await;
    // the proxy appended the real client to a forged entry: the right-most untrusted hop is the client
    let xff = [("x-forwarded-for", "198.51.100.66, 203.0.113.9")];
    assert_eq!(
        audited_ip(&app, addr, PROXY, "PX1", &xff).await,
        "203.0.113.9"
    );
    // the same header from a peer that is not a trusted proxy is ignored
    assert_eq!(
        audited_ip(&app, addr, OTHER, "PX2", &xff).await,
        "127.0.0.2"
    );
    // the proxy's own request
    assert_eq!(audited_ip(&app, addr, PROXY, "PX3", &[]).await, "127.0.0.1");
    // only the configured header is read: a client's own `Forwarded` passed through the proxy proves nothing
    let fwd = [("forwarded", "for=198.51.100.66")];
    assert_eq!(
        audited_ip(&app, addr, PROXY, "PX4", &fwd).await,
        "127.0.0.1"
    );
    // and without --trusted-proxies (the default server) nobody is believed
    assert_eq!(
        audited_ip(&app, app.addr, PROXY, "PX5", &xff).await,
        "127.0.0.1"
    );
}

/// Status of a sign-in as `admin` from `from` (with `xff` when given).
async fn login(addr: SocketAddr, from: [u8; 4], xff: Option<&str>, password: &str) -> u16 {
    let mut req = TestApp::client_from(from)
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().status().as_u16()
}

#[sqlx::test(migrations = false)]
async fn login_throttling_counts_the_forwarded_client_only_from_a_trusted_proxy(pool: PgPool) {
    let (_app, addr) = behind_proxy(pool).await;
    let attacker = Some("203.0.113.50");
    // failures of one client behind the proxy throttle that client...
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(login(addr, PROXY, attacker, "wrong password, guessing").await);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(login(addr, PROXY, attacker, PASSWORD).await, 429);
    // ...and neither another client behind the same proxy, nor the proxy's own address
    assert_eq!(
        login(addr, PROXY, Some("203.0.113.51"), PASSWORD).await,
        200
    );
    assert_eq!(login(addr, PROXY, None, PASSWORD).await, 200);

    // a peer that is not a trusted proxy cannot escape its count by inventing a new address each time
    let mut statuses = Vec::new();
    for i in 0..5 {
        let forged = format!("198.51.100.{i}");
        statuses.push(login(addr, OTHER, Some(&forged), "wrong password, guessing").await);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(
        login(addr, OTHER, Some("198.51.100.200"), PASSWORD).await,
        429
    );
    // nor throttle somebody else by naming them
    for _ in 0..5 {
        login(
            addr,
            OTHER,
            Some("203.0.113.77"),
            "wrong password, guessing",
        )
        .await;
    }
    assert_eq!(
        login(addr, PROXY, Some("203.0.113.77"), PASSWORD).await,
        200
    );
}
