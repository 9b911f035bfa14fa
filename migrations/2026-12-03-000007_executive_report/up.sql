-- The executive report: what a report captures beside its summary, and what makes its figures
-- traceable. Reports made before this keep `remediation` null (their artefacts have no
-- remediation page) and `artefact_sha256` null (their artefacts were never hashed).
ALTER TABLE reports
    ADD COLUMN remediation         jsonb,
    ADD COLUMN definitions_version integer NOT NULL DEFAULT 1 CHECK (definitions_version >= 1),
    ADD COLUMN artefact_sha256     text CHECK (artefact_sha256 ~ '^[0-9a-f]{64}$');
