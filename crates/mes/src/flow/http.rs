//! Handlers of the unit disposition endpoints (the record endpoints are in `crate::process_data`).

use crate::policy;
use axum::extract::State;
use neurohub_core::auth::{AuthUser, Authorized};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use utoipa_axum::router::OpenApiRouter;

use super::disposition::{rework, scrap, DispositionResult};
use super::request::ScrapUnit;
use super::unit::UnitKind;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(rework_wip))
        .routes(utoipa_axum::routes!(rework_serial))
        .routes(utoipa_axum::routes!(scrap_wip))
        .routes(utoipa_axum::routes!(scrap_serial))
}

async fn do_rework(
    st: &AppState,
    user: &AuthUser,
    kind: UnitKind,
    raw: &str,
) -> ApiResult<ApiJson<DispositionResult>> {
    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let max_rework = st.extension::<crate::settings::MesSettings>().max_rework;
    let out = rework(&mut tx, kind, raw, max_rework).await?;
    tx.commit().await?;
    Ok(ApiJson(out))
}

async fn do_scrap(
    st: &AppState,
    user: &AuthUser,
    kind: UnitKind,
    raw: &str,
    body: &ScrapUnit,
) -> ApiResult<ApiJson<DispositionResult>> {
    let reason = body.reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > 500 {
        return Err(ApiError::validation("reason", "1 to 500 characters"));
    }
    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let out = scrap(&mut tx, kind, raw, reason).await?;
    tx.commit().await?;
    tracing::info!(unit = raw, reason, user = user.id, "unit scrapped");
    Ok(ApiJson(out))
}

/// One disposition endpoint: `POST {path}` with the unit in `{id}`, for the roles of `policy::{policy}`, answering a
/// [`DispositionResult`]; the closure names the handler's state, user, id (and body) and runs the action.
macro_rules! unit_endpoint {
    (
        $(#[doc = $doc:tt])*
        $name:ident: $path:tt, $id_doc:tt, $policy:ident,
        |$st:ident, $user:ident, $id:ident $(, $body:ident: $body_ty:ident)?| $run:expr
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(post, path = $path, tag = "flow", security(("bearer" = [])),
            params(("id" = String, Path, description = $id_doc)),
            $(request_body = $body_ty,)?
            responses((status = 200, body = DispositionResult), (status = 403, body = neurohub_core::Problem),
                      (status = 404, body = neurohub_core::Problem), (status = 409, body = neurohub_core::Problem)))]
        pub async fn $name(
            State($st): State<AppState>,
            $user: Authorized<policy::$policy>,
            ApiPath($id): ApiPath<String>,
            $(ApiJson($body): ApiJson<$body_ty>,)?
        ) -> ApiResult<ApiJson<DispositionResult>> {
            $run.await
        }
    };
}

unit_endpoint! {
    /// Send a FAILED WIP item to rework (re-opens the failed process), or scrap it past the rework limit.
    rework_wip: "/wip-items/{id}/rework", "WIP item id (digits) or WIP id (WIP-...)", Operate,
    |st, user, id| do_rework(&st, &user, UnitKind::Wip, &id)
}

unit_endpoint! {
    /// Send a FAILED serial to rework (re-opens the failed process), or scrap it past the rework limit.
    rework_serial: "/serials/{id}/rework", "serial id (digits) or serial number", Operate,
    |st, user, id| do_rework(&st, &user, UnitKind::Serial, &id)
}

unit_endpoint! {
    /// Scrap a WIP item (ADMIN, MANAGER).
    scrap_wip: "/wip-items/{id}/scrap", "WIP item id (digits) or WIP id (WIP-...)", Manage,
    |st, user, id, body: ScrapUnit| do_scrap(&st, &user, UnitKind::Wip, &id, &body)
}

unit_endpoint! {
    /// Scrap a serial (ADMIN, MANAGER).
    scrap_serial: "/serials/{id}/scrap", "serial id (digits) or serial number", Manage,
    |st, user, id, body: ScrapUnit| do_scrap(&st, &user, UnitKind::Serial, &id, &body)
}
