-- Which process owns work in flight, so that work left by a process that died
-- is recognised at once instead of after a grace period. A token is
-- "<pid>:<start time>" (the start time from /proc/<pid>/stat, field 22): a pid
-- alone may be reused by another process, the pair is not. NULL: no process
-- owns it (a row left for reconcile to finish), or a row made before owners
-- were recorded (then the old grace periods apply).
ALTER TABLE containers ADD COLUMN work_owner TEXT;
ALTER TABLE start_claims ADD COLUMN work_owner TEXT;
ALTER TABLE commit_claims ADD COLUMN work_owner TEXT;

-- dcm-userdel in flight: its options and owner as JSON ({"keepImages":…,
-- "keepStorage":…,"owner":TOKEN}), set in the transaction that blocks the
-- user. Reconcile finishes a deletion whose process died.
ALTER TABLE users ADD COLUMN deletion TEXT;
