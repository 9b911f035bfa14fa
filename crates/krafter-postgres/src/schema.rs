//! The tables, as diesel sees them (hand-written; kept in step with `migrations/`).

diesel::table! {
    organisations (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
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
    }
}

diesel::joinable!(projects -> organisations (org_id));
diesel::joinable!(api_keys -> organisations (org_id));
diesel::joinable!(findings -> projects (project_id));
diesel::joinable!(finding_events -> findings (finding_id));
diesel::joinable!(verifications -> findings (finding_id));
diesel::joinable!(regressions -> findings (finding_id));
diesel::joinable!(project_daily_totals -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    projects,
    api_keys,
    findings,
    finding_events,
    verifications,
    regressions,
    project_daily_totals,
);
