-- The exchange log also records what was delivered to each agency (issue 15): every event
-- published on an exchange the agency reads (entitlements `reads`), outcome 'delivered', in
-- the same per-agency chain. The hashed content of a row is unchanged (see SECURITY.md).
--
-- `direction` follows from the hashed outcome ('delivered' is received, the rest pushed), so
-- that a push and a delivery with the same message id are each recorded once: an agency
-- cannot keep an event out of its chain by pushing a message under that event's id first.
ALTER TABLE exchange_log DROP CONSTRAINT exchange_log_outcome_check;
ALTER TABLE exchange_log ADD CONSTRAINT exchange_log_outcome_check
    CHECK (outcome IN ('forwarded', 'refused', 'delivered'));
ALTER TABLE exchange_log ADD COLUMN direction TEXT NOT NULL
    GENERATED ALWAYS AS (CASE WHEN outcome = 'delivered' THEN 'received' ELSE 'pushed' END) STORED;
ALTER TABLE exchange_log DROP CONSTRAINT exchange_log_once;
ALTER TABLE exchange_log ADD CONSTRAINT exchange_log_once UNIQUE (agency, direction, message_id);
