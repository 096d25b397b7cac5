-- Admin policy (issue 5): what each container was granted, for per-user
-- aggregates, and exclusive GPU reservations.

-- The resources a container was created with: summed for limits.total_memory
-- and limits.total_cpus inside the same IMMEDIATE transaction that reserves.
CREATE TABLE container_resources (
  container_id INTEGER PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
  memory_bytes INTEGER NOT NULL,
  cpus         REAL NOT NULL,
  preset       TEXT
);

-- The GPUs a container was created with (its devices); kept while it exists.
CREATE TABLE container_gpus (
  container_id INTEGER NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  gpu_id       TEXT NOT NULL,
  PRIMARY KEY (container_id, gpu_id)
);

-- Who holds each GPU now. PRIMARY KEY(gpu_id): two containers can never hold
-- one GPU. Released on rm (cascade), or on stop when gpus.release_on_stop.
CREATE TABLE gpu_reservations (
  gpu_id       TEXT PRIMARY KEY,
  container_id INTEGER NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  owner        TEXT NOT NULL
);
CREATE INDEX gpu_reservations_container ON gpu_reservations(container_id);
