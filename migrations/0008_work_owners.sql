-- Which process owns work in flight, so that work left by a process that died
-- is recognised at once instead of after a grace period. A token is
-- "<pid>:<start time>@<boot id>/<pid namespace>" (store/work-owner.ts): the
-- start time (clock ticks after boot, /proc/<pid>/stat field 22) tells the
-- process apart from a later one given the same pid; the boot id
-- (/proc/sys/kernel/random/boot_id) marks a token written before the host
-- restarted as dead; the pid namespace (the number of /proc/self/ns/pid) says
-- whether the pid can be looked up here at all. A token from another pid
-- namespace, or one not of this form, cannot be checked: it counts as alive,
-- and the grace period decides. A container row's work whose owner seems to
-- live counts as crashed too once it is older than the grace
-- (manager/crashed-work.ts; timed from containers.work_since, migration 0010,
-- else from created_at).
-- NULL: no process owns it (a row left for reconcile to finish), or a row made
-- before owners were recorded (then the old grace periods apply).
ALTER TABLE containers ADD COLUMN work_owner TEXT;
ALTER TABLE start_claims ADD COLUMN work_owner TEXT;
ALTER TABLE commit_claims ADD COLUMN work_owner TEXT;

-- dcm-userdel in flight: its options and owner as JSON ({"keepImages":…,
-- "keepStorage":…,"owner":TOKEN}), set in the transaction that blocks the
-- user. Reconcile finishes a deletion whose process died.
ALTER TABLE users ADD COLUMN deletion TEXT;
