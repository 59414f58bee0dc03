//! Submissions: one per (workspace, site, scope code, ATP category), a new attempt being a new *revision* of it.
//!
//! The business key is held by the database: `submission_code` is derived from (site id, scope code, category)
//! (`ATP-` + 16 hex digits of their SHA-256), so `uq_atp_submissions_revision (workspace, submission_code,
//! revision_number)` makes two first revisions — or two revisions with one number — impossible, also under a race
//! (23505 → 409 SUBMISSION_EXISTS). A new revision is allowed only after the latest one was returned (QA_REJECTED
//! or REJECTED); it inherits the workflow instance so the chain can resume where it was rejected.

use super::state::{DocumentType, SubmissionStatus};
use super::{ReadFlow, Submit};
use crate::member::Member;
use crate::state::AtpCategory;
use chrono::{DateTime, Utc};
use neurohub_core::response::{created, Created};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get_one))
        .routes(routes!(submit))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Submission {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub submission_code: String,
    pub revision_number: i32,
    pub previous_submission_id: Option<Uuid>,
    pub site_id: Uuid,
    pub scope_id: Uuid,
    pub vendor_id: Option<Uuid>,
    pub workflow_instance_id: Option<Uuid>,
    pub atp_category: AtpCategory,
    pub status: SubmissionStatus,
    pub title: Option<String>,
    pub remarks: Option<String>,
    pub created_by: Option<i64>,
    pub submitted_by: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub qa_reviewed_by: Option<i64>,
    pub qa_reviewed_at: Option<DateTime<Utc>>,
    pub qa_comment: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub const COLUMNS: &str = "id, workspace_id, submission_code, revision_number, previous_submission_id, site_id, \
    scope_id, vendor_id, workflow_instance_id, atp_category, status, title, remarks, created_by, submitted_by, \
    submitted_at, qa_reviewed_by, qa_reviewed_at, qa_comment, completed_at, created_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubmission {
    /// The site's business id (`sites.site_id`).
    pub site_id: String,
    /// A scope code of the ACTIVE SCOPE_CONFIG.
    pub scope_code: String,
    /// A vendor code of the ACTIVE SCOPE_CONFIG.
    pub vendor_code: Option<String>,
    pub atp_category: AtpCategory,
    pub title: Option<String>,
    pub remarks: Option<String>,
}

/// The derived business key of (site, scope code, category).
pub fn submission_code(site: Uuid, scope_code: &str, category: AtpCategory) -> String {
    let mut h = Sha256::new();
    h.update(site.as_bytes());
    h.update(scope_code.as_bytes());
    h.update([0]);
    h.update(category.as_str().as_bytes());
    format!(
        "ATP-{}",
        &hex::encode(h.finalize())[..16].to_ascii_uppercase()
    )
}

#[derive(sqlx::FromRow)]
struct Refs {
    site: Option<Uuid>,
    scope: Option<Uuid>,
    vendor: Option<Uuid>,
    has_scope_config: bool,
}

#[derive(sqlx::FromRow)]
struct Latest {
    id: Uuid,
    revision_number: i32,
    status: SubmissionStatus,
    workflow_instance_id: Option<Uuid>,
}

/// Create a submission (revision 1) or, after its latest revision was returned, its next revision (DRAFT).
#[utoipa::path(
    post, path = "/workspaces/{ws}/submissions", tag = "atp-submissions", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewSubmission,
    responses(
        (status = 201, description = "The new DRAFT revision", body = Submission,
            headers(("location" = String, description = "where the new record is"))),
        (status = 403, description = "Only DOC_CONTROL / VENDOR submit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SUBMISSION_EXISTS: its latest revision is still open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown site, scope or vendor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    mut m: Member<Submit>,
    ApiJson(b): ApiJson<NewSubmission>,
) -> ApiResult<Created<Submission>> {
    let refs: Refs = sqlx::query_as(
        "SELECT (SELECT id FROM sites WHERE workspace_id = $1 AND site_id = $2) AS site, \
                (SELECT s.id FROM atp_scope_master s WHERE s.workspace_id = $1 AND s.config_version_id = c.id \
                    AND s.scope_code = $3) AS scope, \
                (SELECT v.id FROM vendor_master v WHERE v.workspace_id = $1 AND v.config_version_id = c.id \
                    AND v.vendor_code = $4) AS vendor, \
                c.id IS NOT NULL AS has_scope_config \
           FROM (SELECT 1) AS one LEFT JOIN config_versions c ON c.workspace_id = $1 \
                AND c.source_type = 'SCOPE_CONFIG' AND c.status = 'ACTIVE'",
    )
    .bind(m.workspace_id)
    .bind(&b.site_id)
    .bind(&b.scope_code)
    .bind(b.vendor_code.as_deref())
    .fetch_one(&mut *m.tx)
    .await?;
    let site = refs.site.ok_or_else(|| {
        ApiError::validation("site_id", "no site with this site_id in the workspace")
    })?;
    if !refs.has_scope_config {
        return Err(ApiError::validation(
            "scope_code",
            "the workspace has no ACTIVE SCOPE_CONFIG",
        ));
    }
    let scope = refs.scope.ok_or_else(|| {
        ApiError::validation("scope_code", "not a scope of the ACTIVE SCOPE_CONFIG")
    })?;
    if b.vendor_code.is_some() && refs.vendor.is_none() {
        return Err(ApiError::validation(
            "vendor_code",
            "not a vendor of the ACTIVE SCOPE_CONFIG",
        ));
    }
    if b.title.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::validation("title", "at most 200 characters"));
    }
    let code = submission_code(site, &b.scope_code, b.atp_category);
    // the latest revision and the insert of the next one in one statement: the unique key decides a race
    let latest: Option<Latest> = sqlx::query_as(
        "SELECT id, revision_number, status, workflow_instance_id FROM atp_submissions \
          WHERE workspace_id = $1 AND submission_code = $2 ORDER BY revision_number DESC LIMIT 1",
    )
    .bind(m.workspace_id)
    .bind(&code)
    .fetch_optional(&mut *m.tx)
    .await?;
    let (revision, previous, instance) = match latest {
        None => (1, None, None),
        Some(l) if matches!(l.status, SubmissionStatus::QaRejected | SubmissionStatus::Rejected) => {
            (l.revision_number + 1, Some(l.id), l.workflow_instance_id)
        }
        Some(l) => {
            return Err(ApiError::conflict(
                "SUBMISSION_EXISTS",
                format!(
                    "submission {code} (site {}, scope {}, {}) exists: revision {} is {}; a new revision needs it returned (QA_REJECTED or REJECTED)",
                    b.site_id, b.scope_code, b.atp_category, l.revision_number, l.status
                ),
            ))
        }
    };
    let s: Submission = sqlx::query_as(&format!(
        "INSERT INTO atp_submissions (workspace_id, submission_code, revision_number, previous_submission_id, \
             site_id, scope_id, vendor_id, workflow_instance_id, atp_category, title, remarks, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(&code)
    .bind(revision)
    .bind(previous)
    .bind(site)
    .bind(scope)
    .bind(refs.vendor)
    .bind(instance)
    .bind(b.atp_category)
    .bind(b.title.as_deref())
    .bind(b.remarks.as_deref())
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("uq_atp_submissions_revision") => {
            ApiError::conflict(
                "SUBMISSION_EXISTS",
                format!("submission {code} revision {revision} was created concurrently"),
            )
        }
        _ => e.into(),
    })?;
    let location = format!(
        "/api/v1/workspaces/{}/submissions/{}",
        m.workspace_code, s.id
    );
    m.commit().await?;
    Ok(created(location, s))
}

/// One revision of a submission.
#[utoipa::path(
    get, path = "/workspaces/{ws}/submissions/{id}", tag = "atp-submissions", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The revision", body = Submission),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    mut m: Member<ReadFlow>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Submission>> {
    let s: Option<Submission> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM atp_submissions WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    drop(m);
    s.map(ApiJson)
        .ok_or_else(|| ApiError::not_found("submission"))
}

/// Submit a DRAFT revision for the QA pre-approval: it needs an ATP_REPORT document.
#[utoipa::path(
    post, path = "/workspaces/{ws}/submissions/{id}/submit", tag = "atp-submissions", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The revision, now QA_REVIEW", body = Submission),
        (status = 403, description = "Only DOC_CONTROL / VENDOR submit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION (not a DRAFT)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "DOCUMENT_REQUIRED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit(
    mut m: Member<Submit>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Submission>> {
    use neurohub_core::states::StateMachine;
    let cur: Option<(SubmissionStatus, bool)> = sqlx::query_as(
        "SELECT s.status, EXISTS (SELECT 1 FROM atp_submission_documents d WHERE d.workspace_id = s.workspace_id \
                AND d.submission_id = s.id AND d.document_type = $3) \
           FROM atp_submissions s WHERE s.workspace_id = $1 AND s.id = $2 FOR UPDATE OF s",
    )
    .bind(m.workspace_id)
    .bind(id)
    .bind(DocumentType::AtpReport)
    .fetch_optional(&mut *m.tx)
    .await?;
    let (status, has_report) = cur.ok_or_else(|| ApiError::not_found("submission"))?;
    if status != SubmissionStatus::Draft {
        // (the machine admits a self-transition: a second submit must not pass as one)
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!("only a DRAFT revision is submitted; this one is {status}"),
        )
        .with_field("status", format!("{status} cannot be submitted")));
    }
    status.transition(SubmissionStatus::QaReview)?;
    if !has_report {
        return Err(ApiError::unprocessable(
            "DOCUMENT_REQUIRED",
            "a submission needs its ATP_REPORT document before it is submitted",
        )
        .with_field("documents", "no ATP_REPORT document uploaded"));
    }
    let s: Submission = sqlx::query_as(&format!(
        "UPDATE atp_submissions SET status = 'QA_REVIEW', submitted_by = $3, submitted_at = now() \
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(s))
}
