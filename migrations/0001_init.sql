-- dcm schema, first cut. The database is the truth for ownership; Docker labels
-- exist only so that reconcile can find what a crash left behind.

CREATE TABLE users (
  name        TEXT PRIMARY KEY,
  uid         INTEGER NOT NULL UNIQUE,
  gid         INTEGER NOT NULL,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE user_keys (
  id          INTEGER PRIMARY KEY,
  user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  algo        TEXT NOT NULL,
  key_b64     TEXT NOT NULL,
  comment     TEXT NOT NULL DEFAULT '',
  fingerprint TEXT NOT NULL,
  UNIQUE (user, fingerprint)
);

CREATE TABLE groups (
  name        TEXT PRIMARY KEY
);

CREATE TABLE user_groups (
  user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  grp         TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
  PRIMARY KEY (user, grp)
);

-- Images dcm knows: owner NULL = an admin base image.
CREATE TABLE images (
  ref         TEXT PRIMARY KEY,           -- e.g. dcm/debian-base:bookworm, dcm/u/alice/tools:v1
  docker_id   TEXT NOT NULL,              -- sha256:<64 hex>
  owner       TEXT REFERENCES users(name) ON DELETE CASCADE,
  source      INTEGER,                    -- container id it was committed from
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX images_owner ON images(owner);

-- id is the SSH port: the user-facing container id.
CREATE TABLE containers (
  id          INTEGER PRIMARY KEY,
  owner       TEXT NOT NULL REFERENCES users(name),
  name        TEXT,
  docker_id   TEXT UNIQUE,                -- full 64-hex id; NULL while the saga runs
  image_ref   TEXT NOT NULL,
  image_id    TEXT NOT NULL,              -- sha256:<64 hex> at create time
  ip          TEXT NOT NULL,
  instance    TEXT NOT NULL,              -- random token handed to the init script
  state       TEXT NOT NULL CHECK (state IN ('creating', 'created', 'removing')),
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  UNIQUE (owner, name)
);
CREATE INDEX containers_owner ON containers(owner);

-- Every host port dcm publishes, on the IP it publishes it on.
CREATE TABLE port_allocations (
  ip             TEXT NOT NULL,
  port           INTEGER NOT NULL,
  container_id   INTEGER NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  container_port INTEGER NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('ssh', 'extra')),
  UNIQUE (ip, port)
);
CREATE INDEX port_allocations_container ON port_allocations(container_id);

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT,
  ok          INTEGER NOT NULL,
  detail      TEXT
);
