ALTER TABLE reports
    DROP COLUMN artefact_sha256,
    DROP COLUMN definitions_version,
    DROP COLUMN remediation;
