//! The workflow runtime's vocabularies and its two state machines: a submission's status and a stage's status.
//!
//! The transitions below are the API's rules; migration 0006 has no status trigger for these tables (only CHECKs
//! of the vocabularies and of the consistency of decided stages), so the test here checks that each vocabulary is
//! spelled exactly as the schema's CHECK and that every state the runtime writes is admitted by it.

use neurohub_core::states::StateMachine;

neurohub_core::text_enum!(
    /// Status of one revision of a submission (atp_submissions.status).
    SubmissionStatus {
        /// Being prepared by its submitter (documents uploaded).
        Draft => "DRAFT",
        /// Submitted (reserved by the schema; the runtime moves straight to QA_REVIEW).
        Submitted => "SUBMITTED",
        /// Waiting for the QA pre-approval.
        QaReview => "QA_REVIEW",
        /// Returned by QA: the submitter creates a new revision.
        QaRejected => "QA_REJECTED",
        /// Its workflow instance is running.
        InApproval => "IN_APPROVAL",
        /// A stage rejected it: the submitter creates a new revision.
        Rejected => "REJECTED",
        /// Every stage approved, punchlist items still open.
        ApprovedWithPunchlist => "APPROVED_WITH_PUNCHLIST",
        /// Every stage approved and nothing open.
        Completed => "COMPLETED",
        /// Withdrawn.
        Cancelled => "CANCELLED",
    }
);

use SubmissionStatus as S;

/// Submission transitions (docs/atp-flow.md).
pub const SUBMISSION_TRANSITIONS: &[(SubmissionStatus, SubmissionStatus)] = &[
    (S::Draft, S::QaReview),
    (S::Draft, S::Submitted),
    (S::Draft, S::Cancelled),
    (S::Submitted, S::QaReview),
    (S::QaReview, S::QaRejected),
    (S::QaReview, S::InApproval),
    (S::InApproval, S::Rejected),
    (S::InApproval, S::ApprovedWithPunchlist),
    (S::InApproval, S::Completed),
    (S::ApprovedWithPunchlist, S::Completed),
];

impl StateMachine for SubmissionStatus {
    const INITIAL: Self = S::Draft;
    const STATES: &'static [Self] = SubmissionStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = SUBMISSION_TRANSITIONS;
    const SUBJECT: &'static str = "submission";
}

neurohub_core::text_enum!(
    /// Status of one stage of a workflow instance (workflow_stages.status).
    StageStatus {
        /// Not its turn yet.
        Pending => "PENDING",
        /// Its turn: the assigned approver decides.
        Active => "ACTIVE",
        Approved => "APPROVED",
        Rejected => "REJECTED",
        /// A later stage of a rejected chain.
        Cancelled => "CANCELLED",
        /// Decided by the system (AUTO assignment).
        Skipped => "SKIPPED",
    }
);

use StageStatus as T;

/// Stage transitions. REJECTED → PENDING and CANCELLED → PENDING are the resumption after a resubmission
/// (the decision stays in `workflow_stage_actions`).
pub const STAGE_TRANSITIONS: &[(StageStatus, StageStatus)] = &[
    (T::Pending, T::Active),
    (T::Pending, T::Approved),
    (T::Pending, T::Skipped),
    (T::Pending, T::Cancelled),
    (T::Active, T::Approved),
    (T::Active, T::Rejected),
    (T::Active, T::Cancelled),
    (T::Rejected, T::Pending),
    (T::Cancelled, T::Pending),
];

impl StateMachine for StageStatus {
    const INITIAL: Self = T::Pending;
    const STATES: &'static [Self] = StageStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = STAGE_TRANSITIONS;
    const SUBJECT: &'static str = "workflow stage";
}

neurohub_core::text_enum!(
    /// A stage decision (workflow_stages.decision).
    Decision {
        Approve => "APPROVE",
        ApproveWithPunchlist => "APPROVE_WITH_PUNCHLIST",
        Reject => "REJECT",
    }
);

neurohub_core::text_enum!(
    /// Severity of a punchlist item: a CRITICAL one blocks approval.
    Severity {
        Critical => "CRITICAL",
        Major => "MAJOR",
        Minor => "MINOR",
    }
);

neurohub_core::text_enum!(
    /// Status of a punchlist item.
    ItemStatus {
        /// Raised by a stage's approver.
        Identified => "IDENTIFIED",
        /// The submitter attached evidence of the fix.
        Rectified => "RECTIFIED",
        /// The raising approver accepted the evidence.
        Verified => "VERIFIED",
        Closed => "CLOSED",
        /// The raising approver refused the evidence: back to rectification.
        Rejected => "REJECTED",
    }
);

use ItemStatus as P;

/// Punchlist item transitions.
pub const ITEM_TRANSITIONS: &[(ItemStatus, ItemStatus)] = &[
    (P::Identified, P::Rectified),
    (P::Rectified, P::Verified),
    (P::Rectified, P::Rejected),
    (P::Rejected, P::Rectified),
    (P::Verified, P::Closed),
];

impl StateMachine for ItemStatus {
    const INITIAL: Self = P::Identified;
    const STATES: &'static [Self] = ItemStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = ITEM_TRANSITIONS;
    const SUBJECT: &'static str = "punchlist item";
}

neurohub_core::text_enum!(
    /// The QA pre-approval's answer.
    QaDecision {
        Approve => "APPROVE",
        Reject => "REJECT",
    }
);

neurohub_core::text_enum!(
    /// Kind of an uploaded document (atp_submission_documents.document_type).
    DocumentType {
        /// The ATP report itself: required before submitting.
        AtpReport => "ATP_REPORT",
        Photo => "PHOTO",
        Drawing => "DRAWING",
        Evidence => "EVIDENCE",
        Checklist => "CHECKLIST",
        Other => "OTHER",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use neurohub_core::states::check_structure;

    fn check_list(name: &str) -> Vec<String> {
        let sql = include_str!("../../../schema/migrations/0006_atp/up/01_tables.sql");
        let at = sql.find(name).unwrap_or_else(|| panic!("{name}"));
        let rest = &sql[at..];
        let list = &rest[rest.find("IN").unwrap() + 2..];
        let list = &list[list.find('(').unwrap() + 1..];
        list[..list.find(')').unwrap()]
            .split(',')
            .map(|s| {
                s.trim()
                    .trim_matches(|c: char| c == '\'' || c.is_whitespace())
                    .to_string()
            })
            .collect()
    }

    fn words<E: std::fmt::Display>(all: &[E]) -> Vec<String> {
        all.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn the_machines_are_sound() {
        assert_eq!(check_structure::<SubmissionStatus>(), Vec::<String>::new());
        assert_eq!(check_structure::<StageStatus>(), Vec::<String>::new());
        assert_eq!(check_structure::<ItemStatus>(), Vec::<String>::new());
        assert!(StageStatus::Approved
            .transition(StageStatus::Active)
            .is_err());
        assert!(SubmissionStatus::Completed
            .transition(SubmissionStatus::InApproval)
            .is_err());
    }

    #[test]
    fn vocabularies_agree_with_the_schema() {
        assert_eq!(
            check_list("chk_atp_submissions_status"),
            words(SubmissionStatus::ALL)
        );
        assert_eq!(
            check_list("chk_workflow_stages_status"),
            words(StageStatus::ALL)
        );
        assert_eq!(
            check_list("chk_workflow_stages_decision"),
            words(Decision::ALL)
        );
        assert_eq!(
            check_list("chk_punchlist_items_status"),
            words(ItemStatus::ALL)
        );
        assert_eq!(
            check_list("chk_punchlist_items_severity"),
            words(Severity::ALL)
        );
        assert_eq!(
            check_list("chk_atp_submission_documents_document_type"),
            words(DocumentType::ALL)
        );
    }
}
