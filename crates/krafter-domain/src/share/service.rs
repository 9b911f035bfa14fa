pub struct Shares;
pub struct Shared;
#[derive(Debug, thiserror::Error)]
#[error("todo")]
pub struct ShareError;
