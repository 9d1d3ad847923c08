-- LiteLLM spend-log fields added after 0001: end user, cached / reasoning tokens, request tags,
-- and indexes for the date-range reports.
ALTER TABLE gemgate_spend_logs
    ADD COLUMN end_user          text   NOT NULL DEFAULT '',
    ADD COLUMN cached_tokens     bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_tokens  bigint NOT NULL DEFAULT 0,
    ADD COLUMN request_tags      jsonb  NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX gemgate_spend_logs_start ON gemgate_spend_logs (start_time);
CREATE INDEX gemgate_spend_logs_team ON gemgate_spend_logs (team_id, charged_at);
CREATE INDEX gemgate_spend_logs_user ON gemgate_spend_logs (user_id, charged_at);
