//! The test application: a real server on 127.0.0.1:0 over a fresh, fully deployed database per test.

use neurohub_core::auth::password::hash_password;
use neurohub_core::auth::tokens::TokenKeys;
use neurohub_core::auth::Role;
use neurohub_core::{AppState, Settings};
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// Every seeded test user has this password.
pub const PASSWORD: &str = "correct horse battery staple";

pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub token: String,
}

/// One request as the server answered it (see [`TestApp::recorded`]).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The server's own `x-request-id` of the answer.
    pub request_id: String,
    /// The `x-request-id` the "client" sent (forged by the recorder: `client-<n>`).
    pub client_request_id: String,
    /// The bearer token's user (`sub`), when a valid token was sent.
    pub user_id: Option<i64>,
}

pub type Recorder = std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>;

/// Whether the recorder sends a client `x-request-id` (`client-<n>`) with requests that have none.
pub type ForgeIds = std::sync::Arc<std::sync::atomic::AtomicBool>;

pub struct TestApp {
    /// Every request the server answered, in order. With `forge_client_ids` set, each one without an
    /// `x-request-id` is sent on with a client-chosen one (`client-<n>`, as a client could forge it), so the audit
    /// test can prove the audit rows carry the server's.
    pub recorded: Recorder,
    pub forge_client_ids: ForgeIds,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub state: AppState,
    /// One active user per role: `admin`, `manager`, `operator`, `viewer`.
    pub users: HashMap<Role, TestUser>,
}

/// A response with its JSON body parsed (Null when empty or not JSON) and the SQL statement count.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// Statements the request ran (the server's `x-db-queries` header).
    pub fn queries(&self) -> u32 {
        self.headers
            .get("x-db-queries")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("x-db-queries header")
    }

    /// Assert the status, printing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Assert a problem+json error with this status and code; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(ct, "application/problem+json", "body: {}", self.text);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        &self.body
    }

    /// Assert a problem (as [`Self::assert_problem`]) whose `errors[]` names exactly `fields`, in this order.
    #[track_caller]
    pub fn assert_fields(&self, status: u16, code: &str, fields: &[&str]) {
        self.assert_problem(status, code);
        assert_eq!(self.error_fields(), fields, "body: {}", self.text);
    }

    /// The `field` names of `errors[]`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn test_settings() -> Settings {
    Settings {
        throttle: neurohub_core::auth::throttle::ThrottleConfig {
            free_failures: 5,
            address_free_failures: 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(900),
            // the suite signs in a lot from 127.0.0.1; the rate limit has its own test with a low rate
            rate_per_minute: 100_000,
        },
    }
}

pub fn test_mes_settings() -> neurohub_mes::settings::MesSettings {
    neurohub_mes::settings::MesSettings {
        max_rework: 3,
        plant_time_zone: "UTC".into(),
    }
}

impl TestApp {
    /// Deploy the schema into the test's fresh database, seed one user per role and start the server.
    pub async fn spawn(pool: PgPool) -> TestApp {
        Self::spawn_with(pool, test_settings()).await
    }

    pub async fn spawn_with(pool: PgPool, settings: Settings) -> TestApp {
        Self::spawn_full(pool, settings, test_mes_settings()).await
    }

    /// A plant in time zone `zone` (an IANA name).
    pub async fn spawn_in_zone(pool: PgPool, zone: &str) -> TestApp {
        let mes = neurohub_mes::settings::MesSettings {
            plant_time_zone: zone.to_string(),
            ..test_mes_settings()
        };
        Self::spawn_full(pool, test_settings(), mes).await
    }

    pub async fn spawn_full(
        pool: PgPool,
        settings: Settings,
        mes: neurohub_mes::settings::MesSettings,
    ) -> TestApp {
        neurohub_server::telemetry::init_for_tests();
        neurohub_schema::up(
            &pool,
            None,
            &neurohub_schema::Timeouts::default(),
            &mut |_| {},
        )
        .await
        .expect("deploy schema");
        let keys = TokenKeys::new(
            b"test secret test secret test secret!",
            Duration::from_secs(900),
            Duration::from_secs(3600),
        );
        // Requests run as the request role on pools of their own, as in production (`neurohub serve`); `pool`
        // stays the test's owner connection for fixtures and assertions.
        let request_pool = neurohub_core::db::request_pool(&pool, &Default::default())
            .await
            .expect("request pool");
        let state = AppState::new(request_pool.clone(), keys, settings)
            .with_read_pool(request_pool)
            .with_extension(mes);
        let mut users = HashMap::new();
        for role in Role::ALL {
            let username = role.as_str().to_ascii_lowercase();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, full_name, email, password_hash, role) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&username)
            .bind(format!("Test {}", role.as_str()))
            .bind(format!("{username}@example.test"))
            .bind(password_hash())
            .bind(role.as_str())
            .fetch_one(&pool)
            .await
            .expect("seed user");
            let (token, _) = state
                .tokens
                .issue_access(id, &username, role)
                .expect("token");
            users.insert(role, TestUser { id, token });
        }
        neurohub_server::spawn_revocation_listener(&state);
        let recorded = Recorder::default();
        let forge_client_ids = ForgeIds::default();
        let app = neurohub_server::app(state.clone(), &neurohub_server::HttpOptions::default())
            .layer(axum::middleware::from_fn_with_state(
                (
                    recorded.clone(),
                    forge_client_ids.clone(),
                    state.tokens.clone(),
                ),
                record,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = neurohub_server::serve(listener, app, std::future::pending()).await;
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            recorded,
            forge_client_ids,
            addr,
            client,
            pool,
            state,
            users,
        }
    }

    /// Another server process's worth of state over the same database (its own request pool, token generations
    /// and LISTEN task, the same signing key), serving on its own port: what a second API node is.
    pub async fn second_server(&self) -> SocketAddr {
        self.another_server(true).await
    }

    /// [`second_server`](Self::second_server), with or without its revocation listener (`listen: false`: the
    /// node learns of token generations only from what it does itself).
    pub async fn another_server(&self, listen: bool) -> SocketAddr {
        let pool = neurohub_core::db::request_pool(&self.pool, &Default::default())
            .await
            .expect("request pool");
        let keys = TokenKeys::new(
            b"test secret test secret test secret!",
            Duration::from_secs(900),
            Duration::from_secs(3600),
        );
        let state = AppState::new(pool, keys, test_settings()).with_extension(test_mes_settings());
        if listen {
            neurohub_server::spawn_revocation_listener(&state);
        }
        let app = neurohub_server::app(state, &neurohub_server::HttpOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = neurohub_server::serve(listener, app, std::future::pending()).await;
        });
        addr
    }

    /// Another listener over this app's state (same pools, throttle and token generations) with other HTTP
    /// options, serving HTTPS when `tls` is given.
    pub async fn serve_with(
        &self,
        opts: neurohub_server::HttpOptions,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> SocketAddr {
        let app = neurohub_server::app(self.state.clone(), &opts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = match tls {
                Some(config) => {
                    neurohub_server::tls::serve_tls(listener, config, app, std::future::pending())
                        .await
                }
                None => neurohub_server::serve(listener, app, std::future::pending()).await,
            };
        });
        addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn token(&self, role: Role) -> &str {
        &self.users[&role].token
    }

    pub fn user(&self, role: Role) -> &TestUser {
        &self.users[&role]
    }

    /// A client whose connections come from `ip` (any 127.x.y.z works over loopback), to be one of several
    /// client addresses.
    pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// Any request: `token` None sends no Authorization header; `body` None sends no body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        into_test_response(res).await
    }

    /// Send a raw body with a content type (for malformed-input tests).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        role: Role,
        content_type: &str,
        body: &str,
    ) -> TestResponse {
        let res = self
            .client
            .request(method, self.url(path))
            .bearer_auth(self.token(role))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        into_test_response(res).await
    }

    pub async fn get(&self, role: Role, path: &str) -> TestResponse {
        self.request(Method::GET, path, Some(self.token(role)), None, &[])
            .await
    }

    pub async fn post(&self, role: Role, path: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path, Some(self.token(role)), Some(body), &[])
            .await
    }

    pub async fn patch(&self, role: Role, path: &str, body: &Value) -> TestResponse {
        self.request(Method::PATCH, path, Some(self.token(role)), Some(body), &[])
            .await
    }

    pub async fn delete(&self, role: Role, path: &str) -> TestResponse {
        self.request(Method::DELETE, path, Some(self.token(role)), None, &[])
            .await
    }

    /// GET (as VIEWER) and PATCH (as MANAGER, with the otherwise valid change `patch`) of `{base}/999999`, an id
    /// that does not exist, are both 404 NOT_FOUND.
    pub async fn assert_unknown_id_404(&self, base: &str, patch: &Value) {
        let path = format!("{base}/999999");
        self.patch(Role::Manager, &path, patch)
            .await
            .assert_problem(404, "NOT_FOUND");
        self.get(Role::Viewer, &path)
            .await
            .assert_problem(404, "NOT_FOUND");
    }

    /// One value from one row: `app.scalar::<String, _>("SELECT status FROM lots WHERE id = $1", id)`.
    pub async fn scalar<T, B>(&self, sql: &str, bind: B) -> T
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        B: 'static + Send + for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Count rows of a table (for "nothing was written" assertions).
    pub async fn count(&self, table: &str) -> i64 {
        assert!(
            table.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "table name"
        );
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The recorder layer (outermost, where a client's headers arrive): sets a client `x-request-id` when forging is on
/// and the test sent none, and records the answer.
async fn record(
    axum::extract::State((rec, forge, tokens)): axum::extract::State<(
        Recorder,
        ForgeIds,
        std::sync::Arc<TokenKeys>,
    )>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let n = rec.lock().unwrap().len();
    // a test's own x-request-id is left as it sent it
    let client_request_id = match req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => v.to_string(),
        None if !forge.load(std::sync::atomic::Ordering::Relaxed) => String::new(),
        None => {
            let id = format!("client-{n}");
            req.headers_mut().insert(
                "x-request-id",
                axum::http::HeaderValue::from_str(&id).unwrap(),
            );
            id
        }
    };
    let user_id = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| tokens.verify_access(t).ok())
        .and_then(|c| c.user_id());
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    rec.lock().unwrap().push(Recorded {
        method,
        path,
        status: res.status().as_u16(),
        request_id,
        client_request_id,
        user_id,
    });
    res
}

pub async fn into_test_response(res: reqwest::Response) -> TestResponse {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        body,
        text,
    }
}
