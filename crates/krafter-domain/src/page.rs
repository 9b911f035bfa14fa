//! Cursor pagination shared by every listing.

use crate::validation::InvalidParams;

pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 100;

/// How many items a page holds: 1 to 100, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidParams> {
        let Some(raw) = raw else {
            return Ok(Self(DEFAULT_PAGE_LIMIT));
        };
        match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(InvalidParams::field(
                "limit",
                format!("must be an integer from 1 to {MAX_PAGE_LIMIT}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_LIMIT)
    }
}

/// One page of a listing; `next` is the cursor of the page after it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}
