//! Documents of a submission: uploaded as multipart, typed by their bytes *and* their extension, hashed, stored in
//! the database (`atp_submission_documents.content`), downloadable by members of the workspace only.
//!
//! Accepted: PDF, PNG, JPEG, XLSX, XLS and CSV. The sniffed type must match the extension (a `.pdf` that is a ZIP
//! is refused): the media type stored is the sniffed one, never the client's. Limit [`MAX_DOCUMENT`] bytes (the
//! route raises the server's body limit for itself only). Documents are added while the revision is a DRAFT.

use super::state::{DocumentType, SubmissionStatus};
use super::{ReadFlow, Submit};
use crate::member::Member;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use neurohub_core::response::{created, Created};
use neurohub_core::{ApiError, ApiPath, ApiResult, AppState, Problem};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT: usize = 10 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::max(MAX_DOCUMENT + 64 * 1024))
        .merge(OpenApiRouter::new().routes(routes!(download)))
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Document {
    pub id: Uuid,
    pub submission_id: Uuid,
    pub document_type: DocumentType,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<i64>,
    pub uploaded_at: DateTime<Utc>,
}

/// The media type of `bytes` if they are what the extension of `file_name` says, else why not.
pub fn sniff(file_name: &str, bytes: &[u8]) -> Result<&'static str, String> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (media, ok) = match ext.as_str() {
        "pdf" => ("application/pdf", bytes.starts_with(b"%PDF-")),
        "png" => ("image/png", bytes.starts_with(b"\x89PNG\r\n\x1a\n")),
        "jpg" | "jpeg" => ("image/jpeg", bytes.starts_with(&[0xFF, 0xD8, 0xFF])),
        "xlsx" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes.starts_with(b"PK\x03\x04"),
        ),
        "xls" => (
            "application/vnd.ms-excel",
            bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
        ),
        "csv" => (
            "text/csv",
            std::str::from_utf8(bytes).is_ok_and(|t| !t.contains('\0')),
        ),
        _ => {
            return Err(format!(
            "`{file_name}`: only .pdf, .png, .jpg, .jpeg, .xlsx, .xls and .csv files are accepted"
        ))
        }
    };
    if bytes.is_empty() {
        return Err(format!("`{file_name}` is empty"));
    }
    if !ok {
        return Err(format!(
            "`{file_name}`: its content is not a .{ext} file ({media})"
        ));
    }
    Ok(media)
}

/// The multipart form of an upload (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// ATP_REPORT (default), PHOTO, DRAWING, EVIDENCE, CHECKLIST, OTHER.
    document_type: Option<DocumentType>,
    /// The file (one part named `file`, with a file name).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a document to a DRAFT revision.
#[utoipa::path(
    post, path = "/workspaces/{ws}/submissions/{id}/documents", tag = "atp-submissions", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    request_body(content = DocumentForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored document (no content)", body = Document,
            headers(("location" = String, description = "where the new record is"))),
        (status = 403, description = "Only DOC_CONTROL / VENDOR upload", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "NOT_DRAFT", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "UNSUPPORTED_DOCUMENT (type, extension, empty) or a bad form", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload(
    mut m: Member<Submit>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Created<Document>> {
    // the revision first (share-locked so a concurrent submit waits for this upload and then sees it): another
    // workspace's or an unknown submission is 404 whatever the body is
    let found: Option<(SubmissionStatus,)> = sqlx::query_as(
        "SELECT status FROM atp_submissions WHERE workspace_id = $1 AND id = $2 FOR SHARE",
    )
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    let (status,) = found.ok_or_else(|| ApiError::not_found("submission"))?;
    // evidence of a punchlist rectification is added while the chain runs or waits for its punchlist
    let evidence_phase = matches!(
        status,
        SubmissionStatus::InApproval | SubmissionStatus::ApprovedWithPunchlist
    );
    if status != SubmissionStatus::Draft && !evidence_phase {
        return Err(ApiError::conflict(
            "NOT_DRAFT",
            format!("documents are added to a DRAFT revision; this one is {status}"),
        ));
    }
    let mut mp = mp.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!(
                "a document upload is multipart/form-data: {}",
                e.body_text()
            ),
        )
    })?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_UNREADABLE",
                format!("a document is at most {MAX_DOCUMENT} bytes"),
            );
        }
        ApiError::bad_request(
            "MALFORMED_MULTIPART",
            format!("could not read the multipart body: {}", e.body_text()),
        )
    };
    let mut document_type = DocumentType::AtpReport;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        neurohub_core::extract::check_text("", field.name().unwrap_or(""))?;
        match field.name().unwrap_or("") {
            "document_type" => {
                let t = field.text().await.map_err(bad)?;
                document_type = t
                    .trim()
                    .parse()
                    .map_err(|e: String| ApiError::validation("document_type", e))?;
            }
            "file" if file.is_none() => {
                let name = field
                    .file_name()
                    .map(str::to_string)
                    .filter(|n| !n.is_empty() && n.chars().count() <= 255)
                    .ok_or_else(|| {
                        ApiError::validation("file", "needs a file name of 1-255 characters")
                    })?;
                neurohub_core::extract::check_text("file", &name)?;
                let bytes = field.bytes().await.map_err(bad)?;
                file = Some((name, bytes.to_vec()));
            }
            other => {
                return Err(ApiError::validation(
                    other.to_string(),
                    "unexpected part (expected `document_type` and one `file`)",
                ))
            }
        }
    }
    if status != SubmissionStatus::Draft && document_type != DocumentType::Evidence {
        return Err(ApiError::conflict(
            "NOT_DRAFT",
            format!(
                "a revision in {status} takes EVIDENCE documents only (punchlist rectification)"
            ),
        ));
    }
    let (file_name, bytes) =
        file.ok_or_else(|| ApiError::validation("file", "a `file` part is required"))?;
    if bytes.len() > MAX_DOCUMENT {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_UNREADABLE",
            format!("a document is at most {MAX_DOCUMENT} bytes"),
        ));
    }
    let media = sniff(&file_name, &bytes).map_err(|why| {
        ApiError::unprocessable("UNSUPPORTED_DOCUMENT", why.clone()).with_field("file", why)
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let d: Document = sqlx::query_as(
        "INSERT INTO atp_submission_documents (workspace_id, submission_id, document_type, file_name, media_type, \
             size_bytes, sha256, content, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING id, submission_id, document_type, file_name, media_type, size_bytes, sha256, uploaded_by, uploaded_at",
    )
    .bind(m.workspace_id)
    .bind(id)
    .bind(document_type)
    .bind(&file_name)
    .bind(media)
    .bind(bytes.len() as i64)
    .bind(&sha)
    .bind(&bytes)
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!(
        "/api/v1/workspaces/{}/submissions/{id}/documents/{}",
        m.workspace_code, d.id
    );
    m.commit().await?;
    Ok(created(location, d))
}

/// Download a document (its stored bytes, media type, SHA-256 as ETag).
#[utoipa::path(
    get, path = "/workspaces/{ws}/submissions/{id}/documents/{document_id}", tag = "atp-submissions",
    security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path), ("document_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, description = "No such document of this submission in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    mut m: Member<ReadFlow>,
    ApiPath((_ws, id, document_id)): ApiPath<(String, Uuid, Uuid)>,
) -> ApiResult<Response> {
    let d: Option<(String, String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT file_name, media_type, sha256, content FROM atp_submission_documents \
          WHERE workspace_id = $1 AND submission_id = $2 AND id = $3 AND content IS NOT NULL",
    )
    .bind(m.workspace_id)
    .bind(id)
    .bind(document_id)
    .fetch_optional(&mut *m.tx)
    .await?;
    drop(m);
    let (name, media, sha, content) = d.ok_or_else(|| ApiError::not_found("document"))?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, media),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (header::ETAG, format!("\"{sha}\"")),
        ],
        content,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn types_are_sniffed_and_must_match_the_extension() {
        assert_eq!(sniff("a.PDF", b"%PDF-1.7 x"), Ok("application/pdf"));
        assert_eq!(sniff("p.jpg", &[0xFF, 0xD8, 0xFF, 0xE0]), Ok("image/jpeg"));
        assert!(sniff("a.pdf", b"PK\x03\x04zip").is_err());
        assert!(sniff("a.exe", b"MZ").is_err());
        assert!(sniff("a.csv", b"a,b\0").is_err());
        assert!(sniff("a.pdf", b"").is_err());
        assert!(sniff("noext", b"%PDF-").is_err());
    }
}
