-- The identity of this installation. Several installations may share one
-- Docker engine (even with the same `instance` name): every object dcm makes
-- carries dcm.installation=<id> and its Docker name holds the id's first
-- characters, so reconcile, names and lists touch only this installation's
-- objects. Made once, at the first open of the database, and never changed.
CREATE TABLE installation (
  one         INTEGER PRIMARY KEY CHECK (one = 1),   -- exactly one row
  id          TEXT NOT NULL CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
INSERT INTO installation (one, id) VALUES (1, lower(hex(randomblob(16))));

-- Work in flight that a quota must count before the engine sees it: a start
-- whose container is not running yet (limits.max_running), a commit whose
-- image is not recorded yet (images.max_own). Claimed in the same IMMEDIATE
-- transaction that checks the quota, so two parallel commands cannot both
-- take the last slot. finished_at: when the engine finished the start (a
-- process that read the engine before then may not have seen it running).
CREATE TABLE start_claims (
  container_id INTEGER PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
  owner        TEXT NOT NULL,
  started_at   INTEGER NOT NULL,        -- ms since the epoch
  finished_at  INTEGER                  -- ms since the epoch; NULL while starting
);
CREATE INDEX start_claims_owner ON start_claims(owner);

CREATE TABLE commit_claims (
  ref          TEXT PRIMARY KEY,        -- the image reference being committed
  owner        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  started_at   INTEGER NOT NULL         -- ms since the epoch
);
CREATE INDEX commit_claims_owner ON commit_claims(owner);
