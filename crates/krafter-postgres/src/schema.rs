//! The tables, as diesel sees them (hand-written; kept in step with `migrations/`).

diesel::table! {
    organisations (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        export_quota -> Integer,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        org_id -> Uuid,
        slug -> Text,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        scopes -> SmallInt,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    findings (id) {
        id -> Uuid,
        project_id -> Uuid,
        title -> Text,
        severity -> SmallInt,
        status -> SmallInt,
        priority_score -> Integer,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        due_on -> Nullable<Date>,
        source -> Nullable<Text>,
        external_id -> Nullable<Text>,
        rule_id -> Nullable<Text>,
        location -> Nullable<Text>,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    imports (id) {
        id -> Uuid,
        project_id -> Uuid,
        source -> Text,
        format -> SmallInt,
        close_missing -> Bool,
        occurred_at -> Timestamptz,
        created_at -> Timestamptz,
        received -> Integer,
        created -> Integer,
        unchanged -> Integer,
        reopened -> Integer,
        resolved -> Integer,
        ignored_dismissed -> Integer,
    }
}

diesel::table! {
    finding_events (finding_id, seq) {
        finding_id -> Uuid,
        seq -> Integer,
        occurred_at -> Timestamptz,
        status -> SmallInt,
        priority_score -> Integer,
    }
}

diesel::table! {
    verifications (id) {
        id -> Uuid,
        project_id -> Uuid,
        finding_id -> Uuid,
        result -> SmallInt,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    regressions (id) {
        id -> Uuid,
        project_id -> Uuid,
        finding_id -> Uuid,
        opened_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    project_daily_totals (project_id, day) {
        project_id -> Uuid,
        day -> Date,
        open_risk_score -> BigInt,
        open_findings -> BigInt,
        terminal_findings -> BigInt,
        open_regressions -> BigInt,
        verifications -> BigInt,
        verifications_passed -> BigInt,
        returned_findings -> BigInt,
    }
}

diesel::table! {
    quota_usage (org_id, month) {
        org_id -> Uuid,
        month -> Date,
        used -> Integer,
    }
}

diesel::table! {
    reports (id) {
        id -> Uuid,
        org_id -> Uuid,
        project_id -> Uuid,
        period_start -> Date,
        period_end -> Date,
        format -> SmallInt,
        status -> SmallInt,
        snapshot -> Jsonb,
        error -> Nullable<Text>,
        artefact_key -> Nullable<Text>,
        artefact_size -> Nullable<BigInt>,
        quota_month -> Date,
        quota_refunded -> Bool,
        charged -> Bool,
        exported_at -> Nullable<Timestamptz>,
        shared_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        error_detail -> Nullable<Text>,
        remediation -> Nullable<Jsonb>,
        definitions_version -> Integer,
        artefact_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> SmallInt,
        report_id -> Uuid,
        state -> SmallInt,
        attempts -> Integer,
        run_at -> Timestamptz,
        lease_token -> Nullable<Uuid>,
        lease_expires_at -> Nullable<Timestamptz>,
        leased_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    shares (id) {
        id -> Uuid,
        org_id -> Uuid,
        project_id -> Uuid,
        report_id -> Uuid,
        channel -> SmallInt,
        recipients -> Array<Text>,
        webhook_host -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        view_count -> BigInt,
        last_viewed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Uuid,
        share_id -> Uuid,
        report_id -> Uuid,
        channel -> SmallInt,
        target -> Text,
        target_host -> Nullable<Text>,
        status -> SmallInt,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (org_id, key) {
        org_id -> Uuid,
        key -> Text,
        fingerprint -> Text,
        report_id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(projects -> organisations (org_id));
diesel::joinable!(api_keys -> organisations (org_id));
diesel::joinable!(findings -> projects (project_id));
diesel::joinable!(finding_events -> findings (finding_id));
diesel::joinable!(verifications -> findings (finding_id));
diesel::joinable!(regressions -> findings (finding_id));
diesel::joinable!(project_daily_totals -> projects (project_id));
diesel::joinable!(quota_usage -> organisations (org_id));
diesel::joinable!(reports -> projects (project_id));
diesel::joinable!(imports -> projects (project_id));
diesel::joinable!(jobs -> reports (report_id));
diesel::joinable!(shares -> reports (report_id));
diesel::joinable!(deliveries -> shares (share_id));
diesel::joinable!(idempotency_keys -> reports (report_id));

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    imports,
    projects,
    api_keys,
    findings,
    finding_events,
    verifications,
    regressions,
    project_daily_totals,
    quota_usage,
    reports,
    jobs,
    shares,
    deliveries,
    idempotency_keys,
);
