-- A revocation (--rm, --set) is committed in the database even when a user's
-- authorized_keys files refuse the change (a link planted from inside a
-- container). Until a later key write succeeds, the files may still hold the
-- revoked key: no container of the user is created or started meanwhile.
ALTER TABLE users ADD COLUMN keys_unsynced INTEGER NOT NULL DEFAULT 0;

-- Images left in the engine by dcm-userdel --keep-images. They belong to no
-- user any more, but reconcile must not take them for leftovers and remove
-- them; a row goes once the image itself is gone from the engine.
CREATE TABLE kept_images (
  docker_id   TEXT PRIMARY KEY,
  ref         TEXT NOT NULL,
  former_owner TEXT NOT NULL,
  kept_at     TEXT NOT NULL DEFAULT (datetime('now'))
);
