-- Sharing: share records, their deliveries, and one job queue for every kind of background
-- work (exports and deliveries), claimed, leased and retried the same way.

-- The export queue becomes the job queue. An export job's id is its report's id (as before);
-- a delivery job's id is its delivery's id. `report_id` is the report either kind is about, so
-- that an export that ends can wake the deliveries waiting for it.
ALTER TABLE export_jobs RENAME TO jobs;
ALTER TABLE jobs DROP CONSTRAINT export_jobs_report_fk;
ALTER TABLE jobs RENAME COLUMN report_id TO id;
ALTER INDEX export_jobs_pkey RENAME TO jobs_pkey;
ALTER INDEX export_jobs_due_idx RENAME TO jobs_due_idx;
ALTER TABLE jobs RENAME CONSTRAINT export_jobs_state_range TO jobs_state_range;
ALTER TABLE jobs RENAME CONSTRAINT export_jobs_attempts_range TO jobs_attempts_range;
ALTER TABLE jobs RENAME CONSTRAINT export_jobs_lease_while_running TO jobs_lease_while_running;
-- 0: export, 1: delivery.
ALTER TABLE jobs ADD COLUMN kind smallint NOT NULL DEFAULT 0;
ALTER TABLE jobs ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE jobs ADD COLUMN report_id uuid;
UPDATE jobs SET report_id = id;
ALTER TABLE jobs
    ALTER COLUMN report_id SET NOT NULL,
    ADD CONSTRAINT jobs_report_fk FOREIGN KEY (report_id) REFERENCES reports (id),
    ADD CONSTRAINT jobs_kind_range CHECK (kind BETWEEN 0 AND 1),
    ADD CONSTRAINT jobs_export_is_its_report CHECK (kind <> 0 OR id = report_id);
-- Delivery jobs waiting for their report's export (run_at = 'infinity'), found when it ends.
CREATE INDEX jobs_report_waiting_idx ON jobs (report_id) WHERE kind = 1 AND state = 0;

-- A placeholder report (made by a share when the project had none) costs no quota.
ALTER TABLE reports ADD COLUMN charged boolean NOT NULL DEFAULT true;

CREATE TABLE shares (
    id             uuid        PRIMARY KEY,
    org_id         uuid        NOT NULL,
    project_id     uuid        NOT NULL,
    report_id      uuid        NOT NULL,
    -- 0: email, 1: slack, 2: link.
    channel        smallint    NOT NULL,
    recipients     text[]      NOT NULL DEFAULT '{}',
    -- The webhook's host only: its path is a secret, kept by the delivery alone.
    webhook_host   text,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    view_count     bigint      NOT NULL DEFAULT 0,
    last_viewed_at timestamptz,
    CONSTRAINT shares_org_fk FOREIGN KEY (org_id) REFERENCES organisations (id),
    CONSTRAINT shares_project_fk FOREIGN KEY (project_id) REFERENCES projects (id),
    CONSTRAINT shares_report_fk FOREIGN KEY (report_id) REFERENCES reports (id),
    CONSTRAINT shares_channel_range CHECK (channel BETWEEN 0 AND 2),
    CONSTRAINT shares_expire_after_creation CHECK (expires_at > created_at),
    CONSTRAINT shares_view_count_range CHECK (view_count >= 0)
);

CREATE INDEX shares_report_created_idx ON shares (report_id, created_at, id);

CREATE TABLE deliveries (
    id           uuid        PRIMARY KEY,
    share_id     uuid        NOT NULL,
    report_id    uuid        NOT NULL,
    -- 0: email, 1: slack (the share channels that send something).
    channel      smallint    NOT NULL,
    -- The email address, or the webhook's whole URL: a secret, never shown (target_host is).
    target       text        NOT NULL,
    target_host  text,
    -- 0: pending, 1: sending, 2: delivered, 3: failed.
    status       smallint    NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    CONSTRAINT deliveries_share_fk FOREIGN KEY (share_id) REFERENCES shares (id),
    CONSTRAINT deliveries_report_fk FOREIGN KEY (report_id) REFERENCES reports (id),
    CONSTRAINT deliveries_channel_range CHECK (channel BETWEEN 0 AND 1),
    CONSTRAINT deliveries_status_range CHECK (status BETWEEN 0 AND 3),
    CONSTRAINT deliveries_attempts_range CHECK (attempts >= 0),
    CONSTRAINT deliveries_webhook_host CHECK ((channel = 1) = (target_host IS NOT NULL)),
    CONSTRAINT deliveries_delivered_at CHECK ((status = 2) = (delivered_at IS NOT NULL))
);

CREATE INDEX deliveries_report_created_idx ON deliveries (report_id, created_at, id);
