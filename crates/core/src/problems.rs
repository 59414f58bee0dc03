//! The one table of problem types: every error `code` the API can answer with, its title, what it means and the
//! usual fix.
//!
//! A problem document's `type` is `/problems/<slug>` (the code in lower case, `_` → `-`), and the server answers
//! `GET /problems/<slug>` from this table, so every `type` a client sees resolves to an explanation. The server's
//! tests scan the source for the codes passed to `ApiError` and the constraint mappings and fail when one is
//! missing here (or when an entry here is used nowhere), so the table cannot drift from the code.

/// One error code and its human explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The stable machine-readable code, as in the problem document's `code`.
    pub code: &'static str,
    /// A short summary, the same for every occurrence.
    pub title: &'static str,
    /// What happened, in a sentence or two.
    pub explanation: &'static str,
    /// What a client or user usually does about it.
    pub fix: &'static str,
}

impl ProblemType {
    /// The path segment under `/problems/`.
    pub fn slug(&self) -> String {
        slug(self.code)
    }

    /// The problem document's `type`.
    pub fn type_uri(&self) -> String {
        type_uri(self.code)
    }
}

/// `PROCESS_OUT_OF_SEQUENCE` → `process-out-of-sequence`.
pub fn slug(code: &str) -> String {
    code.to_ascii_lowercase().replace('_', "-")
}

/// The `type` URI of a code: a path on this server, so it resolves wherever the API is served.
pub fn type_uri(code: &str) -> String {
    format!("/problems/{}", slug(code))
}

/// The entry for a slug (`process-out-of-sequence`), if the code is known.
pub fn by_slug(slug: &str) -> Option<&'static ProblemType> {
    PROBLEM_TYPES.iter().find(|p| p.slug() == slug)
}

/// The entry for a code (`PROCESS_OUT_OF_SEQUENCE`), if known.
pub fn by_code(code: &str) -> Option<&'static ProblemType> {
    PROBLEM_TYPES.iter().find(|p| p.code == code)
}

const fn p(
    code: &'static str,
    title: &'static str,
    explanation: &'static str,
    fix: &'static str,
) -> ProblemType {
    ProblemType {
        code,
        title,
        explanation,
        fix,
    }
}

/// Every known code, grouped by area (the order is only for reading; look-ups go by code or slug).
pub static PROBLEM_TYPES: &[ProblemType] = &[
    // --- request shape (400, 413, 415, 422) ---
    p(
        "VALIDATION_FAILED",
        "Validation failed",
        "One or more values are missing, of the wrong type, or outside the allowed range. `errors[]` names each bad \
         field with its message.",
        "Correct every field listed in `errors[]` and send the request again.",
    ),
    p(
        "MALFORMED_JSON",
        "Malformed JSON",
        "The request body is not valid JSON.",
        "Send a syntactically valid JSON document.",
    ),
    p(
        "UNSUPPORTED_MEDIA_TYPE",
        "Unsupported media type",
        "The request has a body but its Content-Type is not JSON.",
        "Send the body with `Content-Type: application/json`.",
    ),
    p(
        "BODY_UNREADABLE",
        "Request body unreadable",
        "The body could not be read, most often because it is larger than the server accepts (1 MiB; answered \
         with 413).",
        "Send a smaller body (split a batch), or check that the client sends a complete body.",
    ),
    p(
        "INVALID_QUERY",
        "Invalid query parameter",
        "A query parameter is unknown, malformed or out of range (`errors[]` names it).",
        "Use only the parameters the operation documents, with values of the documented type.",
    ),
    p(
        "INVALID_PATH",
        "Invalid path parameter",
        "A path segment is not of the expected form (e.g. a non-numeric id, or a malformed lot / WIP / serial \
         number).",
        "Use an id or number in the documented format.",
    ),
    p(
        "INVALID_CURSOR",
        "Invalid cursor",
        "The `cursor` is not one this server issued for this list with these filters and this sort.",
        "Pass the `next_cursor` of the previous page unchanged, with the same filters; start over without a cursor \
         otherwise.",
    ),
    p(
        "INVALID_LOT_NUMBER",
        "Invalid lot number",
        "The lot number does not have the form `{country}{line}{model}{YYMM}{seq}`, e.g. `KR01PSA251101`.",
        "Send a lot number as the server issued it.",
    ),
    p(
        "INVALID_WIP_ID",
        "Invalid WIP id",
        "The WIP id does not have the form `WIP-{lot number}-{seq}`, e.g. `WIP-KR01PSA251101-001`.",
        "Send a WIP id as the server issued it.",
    ),
    p(
        "INVALID_SERIAL_NUMBER",
        "Invalid serial number",
        "The serial number is not a lot number followed by three digits, e.g. `KR01PSA251101001`.",
        "Send a serial number as the server issued it.",
    ),
    p(
        "UNKNOWN_CODE_FORMAT",
        "Unknown code format",
        "The scanned code is neither a lot number, a WIP id nor a serial number.",
        "Scan the label again, or type the code in one of those three forms.",
    ),
    p(
        "INVALID_IDEMPOTENCY_KEY",
        "Invalid Idempotency-Key",
        "The `Idempotency-Key` header is empty, longer than 255 characters or not visible ASCII.",
        "Send 1 to 255 visible ASCII characters, e.g. a UUID.",
    ),
    // --- authentication (401, 429) ---
    p(
        "MISSING_TOKEN",
        "Missing access token",
        "The operation needs a signed-in user, and the request has no `Authorization: Bearer` header.",
        "Sign in (`POST /api/v1/auth/login`) and send the access token as `Authorization: Bearer <token>`.",
    ),
    p(
        "INVALID_TOKEN",
        "Invalid access token",
        "The `Authorization` header is not `Bearer <token>`, or the token is malformed or was signed with another \
         key (e.g. before a restart without a fixed `NEUROHUB_JWT_SECRET`).",
        "Sign in again to get a new token.",
    ),
    p(
        "TOKEN_EXPIRED",
        "Access token expired",
        "The access token's lifetime is over.",
        "Get a new one with `POST /api/v1/auth/refresh` (or sign in again).",
    ),
    p(
        "TOKEN_REVOKED",
        "Access token revoked",
        "The account's role, active status or password changed after this token was issued, so every token issued \
         before the change is refused at once, on every server.",
        "Sign in again (a deactivated account cannot).",
    ),
    p(
        "INVALID_CREDENTIALS",
        "Invalid credentials",
        "The username and password do not match an active account. The answer does not say which part was wrong.",
        "Check the username and password; repeated failures from one address make that address wait.",
    ),
    p(
        "LOGIN_THROTTLED",
        "Sign-in throttled",
        "Too many failed sign-ins for this username from this client address (or from this address over all \
         usernames): each further failure doubles the wait (429, with `Retry-After`). The account is not locked: \
         its owner signs in as usual from another address.",
        "Wait the number of seconds in `Retry-After`, then check the username and password.",
    ),
    p(
        "RATE_LIMITED",
        "Too many requests",
        "This client address sent more sign-in or refresh requests per minute than allowed (429, with \
         `Retry-After`).",
        "Wait the number of seconds in `Retry-After`; a client refreshes once per access-token lifetime.",
    ),
    p(
        "INVALID_REFRESH_TOKEN",
        "Invalid refresh token",
        "The refresh token is unknown, revoked, or belongs to an account that is no longer active.",
        "Sign in again.",
    ),
    p(
        "REFRESH_TOKEN_EXPIRED",
        "Refresh token expired",
        "The refresh token's lifetime is over.",
        "Sign in again.",
    ),
    p(
        "REFRESH_TOKEN_REUSED",
        "Refresh token reused",
        "A refresh token is good for one use; this one was used before, which suggests it was copied. Every \
         session of that sign-in is revoked.",
        "Sign in again, and keep only the newest refresh token.",
    ),
    // --- authorization (403) ---
    p(
        "FORBIDDEN",
        "Forbidden",
        "The signed-in user's role may not use this operation (see the role matrix in docs/api.md).",
        "Ask a user with a suitable role, or an admin to change your role.",
    ),
    p(
        "CANNOT_DEACTIVATE_SELF",
        "Cannot deactivate yourself",
        "An admin cannot deactivate their own account, so the system never loses its last admin by accident.",
        "Have another admin deactivate the account.",
    ),
    p(
        "CANNOT_DEMOTE_SELF",
        "Cannot demote yourself",
        "An admin cannot take the ADMIN role from themselves.",
        "Have another admin change the role.",
    ),
    // --- lookups (404, 405) ---
    p(
        "NOT_FOUND",
        "Not found",
        "No record has this id or number.",
        "Check the id; list the collection to find the right one.",
    ),
    p(
        "ROUTE_NOT_FOUND",
        "No such endpoint",
        "No operation has this path.",
        "See `/api/v1/openapi.json` (or `/docs`) for the paths.",
    ),
    p(
        "METHOD_NOT_ALLOWED",
        "Method not allowed",
        "The path exists but not with this HTTP method (e.g. DELETE on the append-only audit log).",
        "Use one of the methods the document lists for the path.",
    ),
    p(
        "REFERENCE_NOT_FOUND",
        "Referenced record not found",
        "A field refers to a record that does not exist, e.g. a `product_model_id` or `equipment_id` naming \
         nothing (`errors[]` names the field).",
        "Use the id of an existing record.",
    ),
    // --- conflicts with the data (409) ---
    p(
        "DUPLICATE",
        "Duplicate",
        "A record with this unique value already exists (`errors[]` names the field).",
        "Choose another value, or update the existing record instead.",
    ),
    p(
        "IN_USE",
        "Record in use",
        "The record is still referenced by other records, so it cannot be removed or changed this way.",
        "Deactivate it instead, or first change the records that refer to it.",
    ),
    p(
        "RETRY",
        "Concurrent change, retry",
        "A concurrent change to the same records interfered (a serialization failure or a deadlock). Nothing was \
         saved.",
        "Send the same request again.",
    ),
    p(
        "RULE_VIOLATED",
        "Rule violated",
        "A rule that only the database can check refused the change; `detail` says which.",
        "Read `detail`, correct the request, and send it again.",
    ),
    p(
        "AUDIT_APPEND_ONLY",
        "Audit log is append-only",
        "Audit log entries can never be changed or deleted.",
        "None: record a correcting change instead, which is audited in turn.",
    ),
    p(
        "RECORD_IMMUTABLE",
        "Record immutable",
        "The record is final (e.g. a completed process record) and can no longer be changed.",
        "Record a new entry (e.g. a rework) instead of editing the old one.",
    ),
    p(
        "INVALID_STATUS_TRANSITION",
        "Invalid status transition",
        "The status change is not allowed from the current status (the state machines are in docs/production-flow.md).",
        "Read the record's current status and choose a transition allowed from it.",
    ),
    p(
        "IDEMPOTENCY_KEY_REUSED",
        "Idempotency-Key reused",
        "This `Idempotency-Key` was already used for a different request (another path or body).",
        "Use a new key for every distinct request; reuse a key only to retry the very same request.",
    ),
    p(
        "IDEMPOTENCY_IN_PROGRESS",
        "Request in progress",
        "A request with this `Idempotency-Key` is still being processed.",
        "Wait a moment and retry with the same key: you then get the first request's answer.",
    ),
    // --- lots ---
    p(
        "LOT_SEQUENCE_EXHAUSTED",
        "Lot numbers exhausted",
        "99 lots already exist for this line, model and month; the lot number has two sequence digits.",
        "Create the lot on another line or next month, or ask an admin.",
    ),
    p(
        "LOT_CLOSED",
        "Lot closed",
        "The lot is closed; nothing can be recorded for it or its units any more.",
        "Work on an open lot.",
    ),
    p(
        "LOT_NOT_ACTIVE",
        "Lot not active",
        "The lot's status (e.g. ON_HOLD, COMPLETED, CLOSED) does not allow production work.",
        "Change the lot's status (`PATCH /api/v1/lots/{id}/status`) or work on another lot.",
    ),
    p(
        "LOT_NOT_COMPLETED",
        "Lot not completed",
        "A lot can be closed only when every unit is finished; `errors[]` gives the counts of unfinished WIP items \
         and serials.",
        "Finish or scrap the unfinished units, then close the lot.",
    ),
    // --- station work: processes and units ---
    p(
        "PROCESS_OUT_OF_SEQUENCE",
        "Process out of sequence",
        "The unit has not passed the previous process of the route yet.",
        "Complete the earlier processes first: `detail` names the first one without a PASS, `errors[]` every one.",
    ),
    p(
        "PROCESS_ALREADY_OPEN",
        "Process already open",
        "The unit already has an open (started, not completed) record for this process.",
        "Complete the open record (`GET /api/v1/process-data` finds it) instead of starting a new one.",
    ),
    p(
        "PROCESS_ALREADY_PASSED",
        "Process already passed",
        "The unit has already passed this process.",
        "Go on with the next process of the route.",
    ),
    p(
        "PROCESS_ALREADY_COMPLETED",
        "Process record already completed",
        "This process record was completed before; a record is completed once.",
        "Start a new record if the unit must repeat the process (after a rework).",
    ),
    p(
        "PROCESS_INACTIVE",
        "Process inactive",
        "The process is deactivated, so no work can be recorded for it.",
        "Ask a manager to reactivate the process.",
    ),
    p(
        "CRITERIA_NOT_MET",
        "Quality criteria not met",
        "A PASS was recorded with measurements outside the process's quality criteria.",
        "Record the result as FAIL (with its defects), or correct the measurements.",
    ),
    p(
        "EQUIPMENT_UNAVAILABLE",
        "Equipment unavailable",
        "The equipment is out of service or inactive.",
        "Use other equipment, or have a manager return it to service.",
    ),
    p(
        "EQUIPMENT_PROCESS_MISMATCH",
        "Equipment not for this process",
        "The equipment is assigned to another process.",
        "Use equipment assigned to this process.",
    ),
    p(
        "EQUIPMENT_LINE_MISMATCH",
        "Equipment not on this line",
        "The equipment belongs to another production line than the lot.",
        "Use equipment of the lot's line.",
    ),
    p(
        "UNIT_SCRAPPED",
        "Unit scrapped",
        "The unit was scrapped; no further work can be recorded for it.",
        "None for this unit.",
    ),
    p(
        "UNIT_COMPLETED",
        "Unit completed",
        "The unit has finished its route.",
        "None: nothing more is due for it.",
    ),
    p(
        "UNIT_FAILED",
        "Unit failed",
        "The unit failed a process and waits for a disposition.",
        "Send it to rework (`POST .../rework`) or scrap it (`POST .../scrap`) first.",
    ),
    p(
        "UNIT_NOT_FAILED",
        "Unit not failed",
        "Only a FAILED unit can be sent to rework.",
        "Check the unit's status; rework applies after a FAIL.",
    ),
    p(
        "UNIT_CONVERTED",
        "WIP item converted",
        "The WIP item received its serial number; from then on the serial is the unit.",
        "Use the serial number (see the WIP item's `serial_number`).",
    ),
    // --- the server (500, 503) ---
    p(
        "INTERNAL",
        "Internal error",
        "An unexpected error; the cause is in the server log under the response's `x-request-id`. Nothing was \
         saved.",
        "Retry later; report the request id if it persists.",
    ),
    p(
        "SERVICE_UNAVAILABLE",
        "Service unavailable",
        "The database is unavailable or busy, or the request took longer than the server allows and was \
         cancelled. Nothing was saved.",
        "Retry shortly, ideally with an `Idempotency-Key` on writes.",
    ),
    p(
        "ALREADY_ACTIVE",
        "Version already active",
        "The configuration version is already the ACTIVE one of its type.",
        "Nothing to do; activate another version to change the configuration.",
    ),
    p(
        "ALREADY_MEMBER",
        "Already a member",
        "The user is already a member of this workspace.",
        "Change the member's role with PATCH on the member instead.",
    ),
    p(
        "CONCURRENT_ACTIVATION",
        "Concurrent activation",
        "Another activation of the same workspace and source type committed first; exactly one wins.",
        "Reload the version list and activate again if this version should still be the active one.",
    ),
    p(
        "DUPLICATE_IMPORT",
        "Identical import",
        "A version with exactly the same content (SHA-256 of the files) already exists; its id is in the detail.",
        "Use the existing version (activate or roll back to it) instead of importing it again.",
    ),
    p(
        "MALFORMED_MULTIPART",
        "Malformed upload",
        "The multipart/form-data body could not be read: a part is missing, unnamed, repeated or not UTF-8 CSV.",
        "Send one part per CSV file named as documented in docs/atp.md, with Content-Type multipart/form-data.",
    ),
    p(
        "NOT_A_MEMBER",
        "Not a member",
        "A user named by the request is not an active member of this workspace.",
        "Add the user to the workspace first, or name a member.",
    ),
    p(
        "NOT_SUPERSEDED",
        "Not superseded",
        "A roll back re-activates a SUPERSEDED version; this one is not.",
        "Roll back to a version that was active before, or activate a DRAFT.",
    ),
    p(
        "SELF_DEMOTION",
        "Cannot demote yourself",
        "A workspace administrator cannot remove their own WORKSPACE_ADMIN role or deactivate themselves (the workspace would be left without one).",
        "Ask another workspace administrator, or a global ADMIN.",
    ),
    p(
        "UNKNOWN_CLUSTER",
        "Unknown cluster",
        "The site's cluster code is not in the workspace's ACTIVE cluster mapping.",
        "Use a cluster code of the active mapping, or import and activate a mapping that has it.",
    ),
    p(
        "UNKNOWN_USER",
        "Unknown user",
        "A user named by the request does not exist or is not an active member of the workspace.",
        "Name an existing, active user by username, email or id.",
    ),
    p(
        "USE_ROLLBACK",
        "Use roll back",
        "A SUPERSEDED version becomes active again only as a roll back, so the history says so.",
        "POST .../rollback on the version instead of .../activate.",
    ),
    p(
        "VERSION_FROZEN",
        "Version frozen",
        "Only a DRAFT version may be edited or deleted; ACTIVE, SUPERSEDED and ARCHIVED versions keep their content (running workflows refer to them).",
        "Import a new version with the change and activate it.",
    ),
    p(
        "VERSION_INVALID",
        "Invalid version",
        "The version failed validation (its report lists every bad row), so it cannot be activated.",
        "Fix the files and import them again.",
    ),
    p(
        "VERSION_ACTIVE",
        "Version active",
        "An ACTIVE configuration version cannot be deleted (the database's backstop).",
        "Activate another version first; an old version is superseded, never deleted.",
    ),
    p(
        "MASTERS_FROZEN",
        "Master rows frozen",
        "Master rows belong to a configuration version and are frozen unless that version is a DRAFT.",
        "Import a new version with the change.",
    ),
    p(
        "APPEND_ONLY",
        "Append-only history",
        "Workflow stage actions are history: they cannot be changed or deleted.",
        "Record a new action instead.",
    ),
    p(
        "CONFIG_FROZEN",
        "Configuration frozen",
        "A running workflow instance stays on the configuration version it started with (freeze-by-reference).",
        "New submissions take the newly active version; running ones finish on theirs.",
    ),
    p(
        "IMPORT_INVALID",
        "Import refused",
        "The CSV has bad rows; every one is listed in errors[] as file:row:column, and nothing was imported.",
        "Fix every listed row and upload the file again.",
    ),
    p(
        "WORKSPACE_INACTIVE",
        "Workspace inactive",
        "The workspace is deactivated: it can be read but not changed.",
        "Ask a global ADMIN to reactivate it.",
    ),
    // --- ATP workflow (docs/atp-flow.md) ---
    p(
        "SUBMISSION_EXISTS",
        "Submission exists",
        "The workspace already has a submission for this site, scope and ATP category whose latest revision is still open.",
        "Work on the existing submission; a new revision can be created once its latest one was returned (QA_REJECTED or REJECTED).",
    ),
    p(
        "DOCUMENT_REQUIRED",
        "Document required",
        "A submission is submitted only with its ATP_REPORT document.",
        "Upload the ATP report (`POST …/submissions/{id}/documents`) and submit again.",
    ),
    p(
        "UNSUPPORTED_DOCUMENT",
        "Unsupported document",
        "The file is not one of PDF, PNG, JPEG, XLSX, XLS or CSV, is empty, or its content is not what its extension says.",
        "Upload the file with its real extension, in one of the accepted formats.",
    ),
    p(
        "NOT_DRAFT",
        "Revision not a draft",
        "Documents are added to a DRAFT revision (EVIDENCE documents also while it is in approval or waits for its punchlist).",
        "Create a new revision, or upload the document as EVIDENCE for a punchlist item.",
    ),
    p(
        "NO_POLICY",
        "No approval policy",
        "The ACTIVE approval matrix has no policy for the submission's category, scope and vendor.",
        "Import and activate an approval matrix with such a policy (or an all-vendors / all-scopes one).",
    ),
    p(
        "NO_APPROVER",
        "No approver",
        "A stage of the chain resolves to no approver: the site has no (mapped) cluster, the cluster has no approver for the stage's role, or the primary is absent without a backup. The message names stage, role and cluster.",
        "Fix the site's cluster or the cluster mapping (or the absence), then approve the QA review again.",
    ),
    p(
        "NOT_ASSIGNED",
        "Not the stage's approver",
        "Only the stage's assigned approver, or an active delegate of theirs (an approved override valid now), decides it.",
        "Ask the assigned approver, or have a WORKSPACE_ADMIN approve an override.",
    ),
    p(
        "NOT_OWN_OVERRIDE",
        "Not your override",
        "An approver requests overrides of their own approvals only, and revokes only overrides they requested or that delegate from them.",
        "Ask a WORKSPACE_ADMIN to request or revoke it.",
    ),
    p(
        "SELF_APPROVAL",
        "Own override",
        "An override is approved by a WORKSPACE_ADMIN who is not its requester, its delegating user or its delegate (four eyes).",
        "Ask another WORKSPACE_ADMIN to approve it.",
    ),
    p(
        "OVERRIDE_EXPIRED",
        "Override window over",
        "The override's validity window ended before it was approved.",
        "Request a new override with a window in the future.",
    ),
    p(
        "OVERRIDE_OVERLAP",
        "Overlapping override",
        "An approved override from the same user with the same type and target is valid during part of this one's window.",
        "Revoke the other override first, or choose a window that does not overlap.",
    ),
    p(
        "ABSENCE_OVERLAP",
        "Overlapping absence",
        "The user already has an absence overlapping this window; a user is absent at most once at any instant.",
        "End or delete the other absence first, or choose a window that does not overlap.",
    ),
    p(
        "ABSENCE_NOT_CURRENT",
        "Absence not in force",
        "Only an absence in force now is ended: this one has not started yet or is over.",
        "Delete an absence that has not started; an absence that is over needs nothing.",
    ),
    p(
        "ABSENCE_STARTED",
        "Absence started",
        "An absence that has started is not deleted, so the record of who stood in stays.",
        "End it instead.",
    ),
    p(
        "OUT_OF_TURN",
        "Stage not active yet",
        "An earlier stage of the chain is undecided.",
        "Wait until the stage appears in your pending approvals.",
    ),
    p(
        "ALREADY_DECIDED",
        "Stage already decided",
        "The stage was decided (or cancelled / skipped) already; a stage is decided once.",
        "Read the timeline; nothing to do.",
    ),
    p(
        "INSTANCE_NOT_REJECTED",
        "Nothing to resume",
        "The previous revision's workflow is not rejected, so there is no stage to resume.",
        "Read the submission's timeline.",
    ),
    p(
        "NOT_RAISER",
        "Not the punchlist's raiser",
        "Only the approver who raised a punchlist verifies and closes its items.",
        "Ask that approver.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_slugs_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut slugs = HashSet::new();
        for pt in PROBLEM_TYPES {
            assert!(codes.insert(pt.code), "duplicate code {}", pt.code);
            assert!(slugs.insert(pt.slug()), "duplicate slug {}", pt.slug());
            assert!(
                pt.code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{} is not SCREAMING_SNAKE_CASE",
                pt.code
            );
            assert!(
                !pt.title.is_empty() && !pt.explanation.is_empty() && !pt.fix.is_empty(),
                "{} needs a title, an explanation and a fix",
                pt.code
            );
        }
    }

    #[test]
    fn slugs_resolve_back_to_their_code() {
        assert_eq!(slug("PROCESS_OUT_OF_SEQUENCE"), "process-out-of-sequence");
        assert_eq!(type_uri("NOT_FOUND"), "/problems/not-found");
        for pt in PROBLEM_TYPES {
            assert_eq!(by_slug(&pt.slug()).map(|x| x.code), Some(pt.code));
            assert_eq!(by_code(pt.code), Some(pt));
        }
        assert_eq!(by_slug("no-such-problem"), None);
        assert_eq!(
            by_slug("NOT_FOUND"),
            None,
            "slugs are lower case with hyphens"
        );
    }
}
