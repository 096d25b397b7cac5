-- Each user's containers share one bridge network of their own, so that
-- containers of different users cannot reach each other. dcm hands out the
-- subnets itself (network.user_subnets), one fixed-size block per network.

CREATE TABLE user_networks (
  id          INTEGER PRIMARY KEY,
  -- No foreign key: a row outlives its user until the engine's network is gone
  -- (state 'removing'), so that its subnet is not handed out twice meanwhile.
  owner       TEXT NOT NULL,
  name        TEXT NOT NULL UNIQUE,       -- Docker network name, made by dcm
  token       TEXT NOT NULL UNIQUE,       -- random; also in the dcm.network label
  subnet      TEXT NOT NULL UNIQUE,       -- canonical a.b.c.d/n
  docker_id   TEXT UNIQUE,                -- NULL until the engine has made it
  state       TEXT NOT NULL CHECK (state IN ('active', 'removing')),
  -- Who is making the network in the engine now, and until when (ms since the
  -- epoch): parallel first creates of one user wait for it instead of racing.
  claim       TEXT,
  claim_until INTEGER NOT NULL DEFAULT 0,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
-- At most one network in use per user.
CREATE UNIQUE INDEX user_networks_active_owner ON user_networks(owner) WHERE state = 'active';
