-- The foundation schema of Krafter Reports.
--
-- Nothing here is schema-qualified and no extension is used: the tables are created in the first
-- schema of the connection's search_path, so that tests can each run in a schema of their own.
-- Enumerations are stored as smallint through the domain's stable `code()` values.

CREATE TABLE organisations (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE projects (
    id         uuid        PRIMARY KEY,
    org_id     uuid        NOT NULL REFERENCES organisations (id),
    slug       text        NOT NULL,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT projects_org_slug_key UNIQUE (org_id, slug),
    CONSTRAINT projects_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organisations (id),
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL,
    -- A bit set: audit:read = 1, audit:write = 2.
    scopes       smallint    NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    CONSTRAINT api_keys_hash_length CHECK (octet_length(key_hash) = 32),
    CONSTRAINT api_keys_scopes_range CHECK (scopes BETWEEN 1 AND 3)
);

CREATE INDEX api_keys_org_id_idx ON api_keys (org_id);

CREATE TABLE findings (
    id             uuid        PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES projects (id),
    title          text        NOT NULL,
    severity       smallint    NOT NULL,
    status         smallint    NOT NULL,
    priority_score integer     NOT NULL,
    created_at     timestamptz NOT NULL,
    -- When the latest history event occurred: the finding is the state after its last event.
    updated_at     timestamptz NOT NULL,
    CONSTRAINT findings_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
    CONSTRAINT findings_severity_range CHECK (severity BETWEEN 0 AND 4),
    CONSTRAINT findings_status_range CHECK (status BETWEEN 0 AND 5),
    CONSTRAINT findings_priority_range CHECK (priority_score BETWEEN 0 AND 1000),
    CONSTRAINT findings_updated_after_created CHECK (updated_at >= created_at)
);

-- Newest-first keyset pagination, with and without a status filter.
CREATE INDEX findings_project_created_idx ON findings (project_id, created_at DESC, id DESC);
CREATE INDEX findings_project_status_created_idx
    ON findings (project_id, status, created_at DESC, id DESC);

-- Append-only history: the state after each event; seq 0 is the creation.
CREATE TABLE finding_events (
    finding_id     uuid        NOT NULL REFERENCES findings (id),
    seq            integer     NOT NULL,
    occurred_at    timestamptz NOT NULL,
    status         smallint    NOT NULL,
    priority_score integer     NOT NULL,
    PRIMARY KEY (finding_id, seq),
    CONSTRAINT finding_events_seq_range CHECK (seq >= 0),
    CONSTRAINT finding_events_status_range CHECK (status BETWEEN 0 AND 5),
    CONSTRAINT finding_events_priority_range CHECK (priority_score BETWEEN 0 AND 1000)
);

CREATE TABLE verifications (
    id          uuid        PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id),
    finding_id  uuid        NOT NULL REFERENCES findings (id),
    result      smallint    NOT NULL,
    occurred_at timestamptz NOT NULL,
    CONSTRAINT verifications_result_range CHECK (result BETWEEN 0 AND 1)
);

CREATE INDEX verifications_project_occurred_idx ON verifications (project_id, occurred_at);
CREATE INDEX verifications_finding_idx ON verifications (finding_id);

CREATE TABLE regressions (
    id         uuid        PRIMARY KEY,
    project_id uuid        NOT NULL REFERENCES projects (id),
    finding_id uuid        NOT NULL REFERENCES findings (id),
    opened_at  timestamptz NOT NULL,
    closed_at  timestamptz,
    CONSTRAINT regressions_closed_after_opened CHECK (closed_at >= opened_at)
);

CREATE INDEX regressions_project_opened_idx ON regressions (project_id, opened_at);
CREATE INDEX regressions_finding_idx ON regressions (finding_id);

-- Per project and UTC day, how that day's writes moved the end-of-day state (the domain's
-- DayDelta), not cumulative values: the state at the end of a day is the sum up to that day.
-- Every ledger write adds its delta here in its own transaction.
CREATE TABLE project_daily_totals (
    project_id           uuid   NOT NULL REFERENCES projects (id),
    day                  date   NOT NULL,
    open_risk_score      bigint NOT NULL DEFAULT 0,
    open_findings        bigint NOT NULL DEFAULT 0,
    terminal_findings    bigint NOT NULL DEFAULT 0,
    open_regressions     bigint NOT NULL DEFAULT 0,
    verifications        bigint NOT NULL DEFAULT 0,
    verifications_passed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, day)
);
