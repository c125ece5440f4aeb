// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (org_id, id) {
        id -> Int8,
        org_id -> Text,
        secret_hash -> Text,
        alias -> Text,
        name -> Nullable<Text>,
        owner -> Text,
        email -> Nullable<Text>,
        email_hash -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        active -> Bool,
        revoked_at -> Nullable<Timestamptz>,
        erased_at -> Nullable<Timestamptz>,
        daily_limit -> Nullable<Int8>,
        lifetime_limit -> Nullable<Int8>,
        lifetime_used -> Int8,
        sequence -> Int8,
        last_caption_at -> Nullable<Timestamptz>,
        daily_day -> Nullable<Date>,
        daily_used -> Int8,
    }
}

diesel::table! {
    auth_events (org_id, id) {
        id -> Int8,
        key_id -> Nullable<Int8>,
        org_id -> Text,
        kind -> Text,
        domain -> Nullable<Text>,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    bus_listeners (origin) {
        origin -> Text,
        seen_at -> Timestamptz,
    }
}

diesel::table! {
    bus_payloads (id) {
        id -> Int8,
        created_at -> Timestamptz,
        payload -> Text,
    }
}

diesel::table! {
    caption_errors (org_id, id) {
        id -> Int8,
        session_id -> Text,
        key_id -> Int8,
        org_id -> Text,
        error -> Text,
        status_code -> Nullable<Int4>,
        occurred_at -> Timestamptz,
        batch_size -> Int8,
    }
}

diesel::table! {
    domain_rollups (org_id, date, hour, domain, slot) {
        date -> Date,
        hour -> Int2,
        domain -> Text,
        sessions_started -> Int8,
        sessions_ended -> Int8,
        captions_sent -> Int8,
        captions_failed -> Int8,
        batches_sent -> Int8,
        total_duration_ms -> Int8,
        peak_sessions -> Int8,
        org_id -> Text,
        slot -> Int2,
    }
}

diesel::table! {
    erasure_receipts (org_id, id) {
        id -> Int8,
        key_id -> Int8,
        org_id -> Text,
        erased_at -> Timestamptz,
        rows_deleted -> Int8,
    }
}

diesel::table! {
    idempotency_keys (org_id, idempotency_key) {
        org_id -> Text,
        idempotency_key -> Text,
        event_id -> Uuid,
        event_occurred_at -> Timestamptz,
        key_id -> Nullable<Int8>,
    }
}

diesel::table! {
    key_daily_usage (org_id, key_id, day) {
        key_id -> Int8,
        day -> Date,
        org_id -> Text,
        used -> Int8,
    }
}

diesel::table! {
    key_secrets (secret_hash) {
        secret_hash -> Text,
        org_id -> Text,
        key_id -> Int8,
    }
}

diesel::table! {
    orgs (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    session_records (org_id, id) {
        id -> Int8,
        session_id -> Text,
        key_id -> Int8,
        org_id -> Text,
        domain -> Text,
        started_at -> Timestamptz,
        ended_at -> Timestamptz,
        duration_ms -> Int8,
        captions_sent -> Int8,
        captions_failed -> Int8,
        final_sequence -> Int8,
        ended_by -> Text,
    }
}

diesel::table! {
    sessions (org_id, id) {
        id -> Text,
        key_id -> Int8,
        org_id -> Text,
        domain -> Text,
        stream_key -> Nullable<Text>,
        sequence -> Int8,
        targets -> Jsonb,
        started_at -> Timestamptz,
        last_activity_at -> Timestamptz,
        captions_sent -> Int8,
        captions_failed -> Int8,
        mic_holder -> Nullable<Text>,
        sync_offset_ms -> Int8,
    }
}

diesel::table! {
    usage_events (org_id, occurred_at, id) {
        occurred_at -> Timestamptz,
        id -> Uuid,
        org_id -> Text,
        user_id -> Nullable<Uuid>,
        key_id -> Nullable<Int8>,
        session_id -> Nullable<Text>,
        kind -> Text,
        api_name -> Nullable<Text>,
        endpoint -> Nullable<Text>,
        method -> Nullable<Text>,
        path -> Nullable<Text>,
        status_code -> Nullable<Int4>,
        response_time_ms -> Nullable<Int8>,
        model -> Nullable<Text>,
        language -> Nullable<Text>,
        domain -> Nullable<Text>,
        units -> Int8,
        cost_nanos -> Int8,
        tokens -> Int8,
        quota -> Int8,
        duration_ms -> Int8,
        success -> Bool,
        error -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        active -> Bool,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamptz,
        number -> Int8,
    }
}

diesel::table! {
    usage_rollups (org_id, id) {
        id -> Int8,
        hour -> Timestamptz,
        org_id -> Text,
        user_id -> Nullable<Uuid>,
        key_id -> Nullable<Int8>,
        model -> Nullable<Text>,
        api_name -> Nullable<Text>,
        language -> Nullable<Text>,
        domain -> Nullable<Text>,
        success -> Bool,
        api_call -> Bool,
        status_class -> Nullable<Int2>,
        count -> Int8,
        units -> Int8,
        cost_nanos -> Int8,
        tokens -> Int8,
        quota -> Int8,
        duration_ms -> Int8,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        org_id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        role -> Text,
        created_at -> Timestamptz,
        erased_at -> Nullable<Timestamptz>,
        number -> Int8,
    }
}

diesel::table! {
    viewer_daily_stats (org_id, key_id, date, viewer_key) {
        org_id -> Text,
        key_id -> Int8,
        date -> Date,
        viewer_key -> Text,
        views -> Int8,
    }
}

diesel::joinable!(api_keys -> orgs (org_id));
diesel::joinable!(users -> orgs (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    auth_events,
    bus_listeners,
    bus_payloads,
    caption_errors,
    domain_rollups,
    erasure_receipts,
    idempotency_keys,
    key_daily_usage,
    key_secrets,
    orgs,
    session_records,
    sessions,
    usage_events,
    usage_rollups,
    users,
    viewer_daily_stats,
);
