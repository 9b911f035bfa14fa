-- Exports: the monthly quota that pays for them, the reports, the job queue the Report Export
-- Worker drains, and idempotency claims.
--
-- Enumerations are smallint through the domain's stable codes: reports.format is ExportFormat
-- (0 pdf, 1 csv, 2 json, 3 html), reports.status is ReportStatus (0 queued, 1 exporting,
-- 2 exported, 3 shared, 4 failed). export_jobs.state belongs to this adapter: 0 queued,
-- 1 running, 2 done.

-- The domain's DEFAULT_MONTHLY_QUOTA.
ALTER TABLE organisations
    ADD COLUMN export_quota integer NOT NULL DEFAULT 100,
    ADD CONSTRAINT organisations_export_quota_range CHECK (export_quota >= 0);

-- Units used per organisation and UTC calendar month (the month's first day).
CREATE TABLE quota_usage (
    org_id uuid    NOT NULL,
    month  date    NOT NULL,
    used   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, month),
    CONSTRAINT quota_usage_org_fk FOREIGN KEY (org_id) REFERENCES organisations (id),
    CONSTRAINT quota_usage_used_range CHECK (used >= 0),
    CONSTRAINT quota_usage_month_first_day CHECK (extract(day FROM month) = 1)
);

CREATE TABLE reports (
    id             uuid        PRIMARY KEY,
    org_id         uuid        NOT NULL,
    project_id     uuid        NOT NULL,
    period_start   date        NOT NULL,
    period_end     date        NOT NULL,
    format         smallint    NOT NULL,
    status         smallint    NOT NULL,
    -- The domain's Summary over the period, in the API's shape.
    snapshot       jsonb       NOT NULL,
    -- Why the export failed; set only with status failed.
    error          text,
    artefact_key   text,
    artefact_size  bigint,
    -- The month whose unit paid for it, and whether the unit was given back (a failed export).
    quota_month    date        NOT NULL,
    quota_refunded boolean     NOT NULL DEFAULT false,
    exported_at    timestamptz,
    shared_at      timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT reports_org_fk FOREIGN KEY (org_id) REFERENCES organisations (id),
    CONSTRAINT reports_project_fk FOREIGN KEY (project_id) REFERENCES projects (id),
    CONSTRAINT reports_period_order CHECK (period_start <= period_end),
    CONSTRAINT reports_format_range CHECK (format BETWEEN 0 AND 3),
    CONSTRAINT reports_status_range CHECK (status BETWEEN 0 AND 4),
    CONSTRAINT reports_artefact_complete CHECK ((artefact_key IS NULL) = (artefact_size IS NULL)),
    CONSTRAINT reports_artefact_size_range CHECK (artefact_size >= 0),
    CONSTRAINT reports_quota_month_first_day CHECK (extract(day FROM quota_month) = 1)
);

-- Newest-first keyset pagination per project.
CREATE INDEX reports_project_created_idx ON reports (project_id, created_at DESC, id DESC);

-- One job per report. A running job holds a lease (token, expiry, worker); queued and done
-- jobs hold none.
CREATE TABLE export_jobs (
    report_id        uuid        PRIMARY KEY,
    state            smallint    NOT NULL DEFAULT 0,
    attempts         integer     NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL,
    lease_token      uuid,
    lease_expires_at timestamptz,
    leased_by        text,
    last_error       text,
    CONSTRAINT export_jobs_report_fk FOREIGN KEY (report_id) REFERENCES reports (id),
    CONSTRAINT export_jobs_state_range CHECK (state BETWEEN 0 AND 2),
    CONSTRAINT export_jobs_attempts_range CHECK (attempts >= 0),
    CONSTRAINT export_jobs_lease_while_running CHECK (
        (state = 1) = (lease_token IS NOT NULL)
        AND (lease_token IS NULL) = (lease_expires_at IS NULL)
        AND (lease_token IS NULL) = (leased_by IS NULL)
    )
);

-- The jobs a claim looks at: unfinished ones, oldest first (done jobs never enter the index).
CREATE INDEX export_jobs_due_idx ON export_jobs (run_at, report_id) WHERE state <> 2;

-- An Idempotency-Key per organisation and the report its first request created. The report is
-- inserted after the claim in the same transaction, hence the deferred foreign key.
CREATE TABLE idempotency_keys (
    org_id      uuid        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    report_id   uuid        NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, key),
    CONSTRAINT idempotency_keys_org_fk FOREIGN KEY (org_id) REFERENCES organisations (id),
    CONSTRAINT idempotency_keys_report_fk FOREIGN KEY (report_id) REFERENCES reports (id)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);

CREATE INDEX idempotency_keys_report_idx ON idempotency_keys (report_id);
