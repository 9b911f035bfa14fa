use crate::ids::FindingId;
use crate::ledger::finding::Finding;
use crate::page::KeysetCursor;

/// Where a newest-first page of findings resumes.
pub type FindingCursor = KeysetCursor<FindingId>;

impl FindingCursor {
    pub fn after(finding: &Finding) -> Self {
        Self {
            created_at: finding.created_at,
            id: finding.id,
        }
    }
}
