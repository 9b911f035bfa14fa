-- What went wrong in the last failed export attempt of a report, in full: the renderer's own
-- message, a store or database error, file paths. For operators only (`krafter report show`);
-- clients see the short public reason in `error` (set once the report has failed for good).
-- Set by every failed attempt, kept when a later one succeeds.
ALTER TABLE reports ADD COLUMN error_detail text;
