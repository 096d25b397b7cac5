-- dcm-useradd in flight: JSON {"owner":TOKEN} (store/work-owner.ts), set in
-- the transaction that inserts the user row (which is inserted blocked), and
-- cleared, with the block, once the storage and both authorized_keys files
-- are in place. A user whose dcm-useradd died half-way is finished by
-- reconcile from what the row holds (or, if its storage refuses, removed as a
-- failed dcm-useradd removes it); until then no door lets them in.
ALTER TABLE users ADD COLUMN addition TEXT;

-- When the work named in containers.work_owner began (ms since the epoch);
-- NULL for a row whose work began at its insert (created_at then tells) or
-- that no process owns. The grace after which a living owner's work counts as
-- crashed runs from here: an rm or dcm-userdel of a container made long ago is
-- still new work.
ALTER TABLE containers ADD COLUMN work_since INTEGER;

-- 1 once reconcile has found (or given) dcm's restart policy on a container
-- made before dcm set one (it lacks the dcm.restart label, which cannot be
-- added later): such a container is inspected once, not at every reconcile.
ALTER TABLE containers ADD COLUMN restart_policy_known INTEGER NOT NULL DEFAULT 0;
