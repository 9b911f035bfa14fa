-- Import of scanner results: what a scanner said about each finding it reported, and a record
-- of every import. A finding recorded by hand keeps all of these null.
ALTER TABLE findings
    ADD COLUMN source      text,
    ADD COLUMN external_id text,
    ADD COLUMN rule_id     text,
    ADD COLUMN location    text,
    ADD COLUMN description text,
    ADD CONSTRAINT findings_origin_together CHECK ((source IS NULL) = (external_id IS NULL)),
    ADD CONSTRAINT findings_source_length CHECK (char_length(source) BETWEEN 1 AND 100),
    ADD CONSTRAINT findings_external_id_length CHECK (char_length(external_id) BETWEEN 1 AND 500),
    ADD CONSTRAINT findings_rule_id_length CHECK (char_length(rule_id) BETWEEN 1 AND 500),
    ADD CONSTRAINT findings_location_length CHECK (char_length(location) BETWEEN 1 AND 2000),
    ADD CONSTRAINT findings_description_length CHECK (char_length(description) BETWEEN 1 AND 10000);

-- The same result of the same tool is the same finding: two imports racing cannot both create it.
CREATE UNIQUE INDEX findings_project_source_external_id_key
    ON findings (project_id, source, external_id) WHERE source IS NOT NULL;
-- `?source=` lists, newest first.
CREATE INDEX findings_project_source_created_idx
    ON findings (project_id, source, created_at DESC, id DESC) WHERE source IS NOT NULL;

CREATE TABLE imports (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id),
    source            text        NOT NULL CHECK (char_length(source) BETWEEN 1 AND 100),
    -- The SARIF log or the native bulk format (`sarif`, `native`).
    format            smallint    NOT NULL CHECK (format BETWEEN 0 AND 1),
    close_missing     boolean     NOT NULL,
    occurred_at       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    received          integer     NOT NULL CHECK (received >= 0),
    created           integer     NOT NULL CHECK (created >= 0),
    unchanged         integer     NOT NULL CHECK (unchanged >= 0),
    reopened          integer     NOT NULL CHECK (reopened >= 0),
    resolved          integer     NOT NULL CHECK (resolved >= 0),
    ignored_dismissed integer     NOT NULL CHECK (ignored_dismissed >= 0),
    CONSTRAINT imports_counts_add_up
        CHECK (received = created + unchanged + reopened + ignored_dismissed)
);

CREATE INDEX imports_project_created_idx ON imports (project_id, created_at DESC, id DESC);
