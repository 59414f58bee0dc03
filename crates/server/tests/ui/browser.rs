//! A real browser for the UI tests: Debian's `chromium`, driven over WebDriver by `chromedriver` (one driver and
//! one headless browser per test — nextest runs each test in its own process — killed with its process group
//! when the test ends). Screenshots go to `target/ui-screenshots/`, the accessibility check is axe-core's
//! (vendored under `vendor/`, injected into the page under test).

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    _profile: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // the driver, and the browser it started, are one process group
        unsafe {
            libc::killpg(self.driver.id() as i32, libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `$CARGO_TARGET_DIR/ui-screenshots`, else the workspace's `target/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ui-screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// A headless browser at `addr`, in `lang` (`en-US` or `ko-KR`: the browser's Accept-Language).
    pub async fn start(addr: std::net::SocketAddr, lang: &str) -> Browser {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser tests need Debian's chromium and chromium-driver (.ci/run installs them: apt-get install chromium chromium-driver)"
        );
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let driver = cmd.spawn().expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("nh-ui-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--lang={lang}"), format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "intl.accept_languages": lang }
            }
        });
        let caps: serde_json::Map<String, Value> = caps.as_object().unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("rustls client")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver did not start a session: {e}"),
            }
        };
        Browser {
            client,
            base: format!("http://{addr}"),
            driver,
            _profile: TempDir(profile),
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css).await
    }

    /// Wait (up to 10 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on {}: {e}", self.path_now()))
    }

    fn path_now(&self) -> String {
        "the page".into()
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// The whole page's visible text.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Wait (up to 10 s) until the page's text contains `needle`.
    pub async fn wait_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = self.body_text().await;
            if t.contains(needle) {
                return t;
            }
            if Instant::now() > deadline {
                panic!("the page never showed {needle:?}; it shows:\n{t}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The id (or tag) of the element that has focus.
    pub async fn focused(&self) -> String {
        let v = self
            .client
            .execute("const e = document.activeElement; return e ? (e.id || e.name || e.tagName) : null;", vec![])
            .await
            .expect("activeElement");
        v.as_str().unwrap_or("").to_string()
    }

    /// Type into whatever has focus, as a keyboard (or a wedge scanner) would.
    pub async fn keys(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("focused element")
            .send_keys(text)
            .await
            .expect("type");
    }

    pub async fn enter(&self) {
        self.keys(&char::from(Key::Enter).to_string()).await;
    }

    pub async fn tab(&self) {
        self.keys(&char::from(Key::Tab).to_string()).await;
    }

    /// Sign in through the form, by keyboard.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.goto("/ui/login").await;
        self.wait_for("#username").await;
        assert_eq!(
            self.focused().await,
            "username",
            "the sign-in page focuses the username"
        );
        self.keys(username).await;
        self.tab().await;
        self.keys(password).await;
        self.enter().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.path().await.starts_with("/ui/login") {
            assert!(
                Instant::now() < deadline,
                "sign-in as {username} did not leave the sign-in page:\n{}",
                self.body_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Save a screenshot as `target/ui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// axe-core's violations of impact `serious` or `critical` on the current page (WCAG 2.x A and AA rules).
    pub async fn serious_a11y_violations(&self) -> Vec<Value> {
        const AXE: &str = include_str!("vendor/axe.min.js");
        self.client
            .execute(&format!("{AXE}; return true;"), vec![])
            .await
            .expect("inject axe");
        let v = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                    .then(r => done(r.violations), e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("run axe");
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|x| matches!(x["impact"].as_str(), Some("serious") | Some("critical")))
            .map(|x| json!({ "id": x["id"], "impact": x["impact"], "help": x["help"], "nodes": x["nodes"].as_array().map(|n| n.iter().take(3).map(|n| n["html"].clone()).collect::<Vec<_>>()) }))
            .collect()
    }

    /// Assert zero serious or critical accessibility violations, naming them otherwise.
    pub async fn assert_accessible(&self, page: &str) {
        let v = self.serious_a11y_violations().await;
        assert!(
            v.is_empty(),
            "{page}: axe-core found serious violations:\n{}",
            serde_json::to_string_pretty(&v).unwrap()
        );
    }

    /// The transfer size of the page and its assets (HTML + JS + CSS bytes, from the Resource Timing API; the
    /// assets are cached after the first page, so this is the page's own weight the first time).
    pub async fn page_weight(&self) -> Value {
        self.client
            .execute(
                "const nav = performance.getEntriesByType('navigation')[0];
                 const res = performance.getEntriesByType('resource');
                 const size = e => e.decodedBodySize || 0;
                 return { html: nav ? size(nav) : 0,
                          js: res.filter(r => r.name.endsWith('.js')).reduce((a, r) => a + size(r), 0),
                          css: res.filter(r => r.name.endsWith('.css')).reduce((a, r) => a + size(r), 0) };",
                vec![],
            )
            .await
            .expect("weights")
    }
}
