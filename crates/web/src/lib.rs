//! The NeuroHub web UI: server-rendered HTML (maud), a little script for live updates and retries, and no build
//! step — the stylesheet and script are compiled into the binary ([`assets`]), so `neurohub up` serves the UI
//! with nothing else installed.
//!
//! The UI holds no business rule. Every page reads, and every form writes, through the API router itself,
//! called in-process with the signed-in user's access token ([`api`]): the role checks, validation, state
//! machines, idempotency and audit context are the API's, so the UI and a script can never disagree. Which
//! controls a page shows comes from the same role table the API documents ([`WebState::may`]); the API decides
//! all the same.
//!
//! Sessions are the API's tokens in HttpOnly cookies ([`session`], [`cookies`]); every form carries a CSRF token
//! ([`csrf`]); pages speak English and Korean ([`i18n`]).

pub mod api;
pub mod assets;
pub mod cookies;
pub mod csrf;
pub mod headers;
pub mod i18n;
pub mod layout;
pub mod live;
pub mod pages;
pub mod session;
pub mod svg;

use axum::middleware::{from_fn_with_state, map_response};
use axum::Router;
use neurohub_core::auth::Role;
use neurohub_core::AppState;
use std::sync::Arc;

/// Which roles may call an operation that not every role may (`None`: every signed-in user) — the API's own
/// table (`neurohub_server::openapi::restricted_to`), which a test keeps equal to the handlers' extractors.
pub type RoleTable = fn(&str, &str) -> Option<&'static [Role]>;

/// What every UI route shares.
#[derive(Clone)]
pub struct WebState {
    pub api: api::Api,
    pub app: AppState,
    /// Served over TLS: cookies are `Secure`.
    pub tls: bool,
    pub refresh: Arc<session::RefreshFlights>,
    pub live: Arc<live::Hub>,
    roles: RoleTable,
}

impl WebState {
    /// `api`: the API router with its state (what the UI calls); `roles`: the API's role table.
    pub fn new(api: Router, app: AppState, tls: bool, roles: RoleTable) -> Self {
        let live = Arc::new(live::Hub::new(app.pool.clone()));
        Self {
            api: api::Api::new(api),
            app,
            tls,
            refresh: Arc::default(),
            live,
            roles,
        }
    }

    /// Whether the session's role may call `method path` (a path template of the API, e.g.
    /// `/api/v1/process-data/start`), by the API's role table. Only for showing or hiding controls: the API
    /// checks again on every call.
    pub fn may(&self, s: &session::Session, method: &str, path: &str) -> bool {
        (self.roles)(method, path).is_none_or(|roles| roles.contains(&s.role))
    }

    /// Why the session may not call `method path`, in the API's words for its 403.
    pub fn not_allowed(&self, s: &session::Session, method: &str, path: &str) -> String {
        let names: Vec<&str> = (self.roles)(method, path)
            .unwrap_or(&[])
            .iter()
            .map(|r| r.as_str())
            .collect();
        format!(
            "role {} may not do this; it needs one of: {}",
            s.role,
            names.join(", ")
        )
    }
}

/// The UI's routes (under `/ui`, and `/` sending a browser there), for the server to merge beside the API.
pub fn router<S: Clone + Send + Sync + 'static>(web: WebState) -> Router<S> {
    let signed_in =
        pages::signed_in_routes().layer(from_fn_with_state(web.clone(), session::require));
    let with_forms = signed_in
        .merge(pages::public_routes())
        .layer(from_fn_with_state(web.clone(), csrf::guard));
    with_forms
        .route("/ui/assets/{file}", axum::routing::get(assets::serve))
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::to("/ui") }),
        )
        .layer(map_response(headers::secure))
        .with_state(web)
}
