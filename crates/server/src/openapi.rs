//! The OpenAPI 3.1 document: paths come from the routers themselves (utoipa-axum), so it cannot drift.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NeuroHub API",
        description = "MES traceability (lots, WIP, serials, process data, genealogy, audit). Errors are RFC 9457 \
                       application/problem+json with a stable `code` and `errors[]` naming each bad field.",
    ),
    modifiers(&BearerAuth),
    // Enums used only as query parameters are not collected from the handlers; list them here (a test checks that
    // every `$ref` in the document resolves).
    components(schemas(neurohub_core::Problem, neurohub_core::FieldError, neurohub_mes::lots::LotSort, neurohub_mes::lots::SortOrder)),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
