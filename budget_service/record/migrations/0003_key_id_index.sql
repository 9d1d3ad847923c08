-- Spend rows the router did not describe (expired reservations) get their key's hash and alias
-- from gemgate_keys by key_id.
CREATE INDEX gemgate_keys_key_id ON gemgate_keys (key_id);
