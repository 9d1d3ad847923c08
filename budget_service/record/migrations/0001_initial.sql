-- gemgate system of record: keys (hashes only), teams, users, and one spend-log row per charge.
CREATE TABLE gemgate_keys (
    token       text PRIMARY KEY,            -- sha256 hex of the key; the key itself is never stored
    key_id      text NOT NULL,               -- stable id that spend is kept under (survives regenerate)
    key_alias   text,
    team_id     text,
    user_id     text,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gemgate_keys_team ON gemgate_keys (team_id);
CREATE INDEX gemgate_keys_user ON gemgate_keys (user_id);

CREATE TABLE gemgate_teams (
    id          text PRIMARY KEY,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gemgate_users (
    id          text PRIMARY KEY,
    doc         jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gemgate_spend_logs (
    request_id          text PRIMARY KEY,    -- the gateway's request id: rows are idempotent by it
    call_type           text NOT NULL DEFAULT '',
    api_key             text NOT NULL DEFAULT '',   -- key hash
    key_id              text NOT NULL DEFAULT '',
    key_alias           text NOT NULL DEFAULT '',
    team_id             text NOT NULL DEFAULT '',
    user_id             text NOT NULL DEFAULT '',
    model_group         text NOT NULL DEFAULT '',
    model_id            text NOT NULL DEFAULT '',   -- deployment
    model               text NOT NULL DEFAULT '',   -- provider model
    custom_llm_provider text NOT NULL DEFAULT '',
    prompt_tokens       bigint NOT NULL DEFAULT 0,
    completion_tokens   bigint NOT NULL DEFAULT 0,
    total_tokens        bigint NOT NULL DEFAULT 0,
    spend_micros        bigint NOT NULL DEFAULT 0,
    start_time          timestamptz,
    end_time            timestamptz,
    charged_at          timestamptz NOT NULL,       -- when budget_service charged it (budget periods)
    status              text NOT NULL DEFAULT '',   -- success | failure
    charge              text NOT NULL DEFAULT '',   -- settled | failed | expired | unreserved
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX gemgate_spend_logs_charged ON gemgate_spend_logs (charged_at);
CREATE INDEX gemgate_spend_logs_key ON gemgate_spend_logs (key_id, charged_at);
