-- Batch jobs (`run`): a container that runs one command instead of sshd.
-- job: NULL for a container made by `create`; for a job, JSON
-- {"command":[argv] or null (the image's own),"tty":bool,"stdin":bool,"root":bool}
-- as the user asked for it (shown by `show`, never sent to Docker again).
-- auto_remove: 1 when the job was started with --rm: the engine removes its
-- container when it ends (even if no dcm process is left), and the row goes
-- with it (the waiting process, the owner's next command, or reconcile).
ALTER TABLE containers ADD COLUMN job TEXT;
ALTER TABLE containers ADD COLUMN auto_remove INTEGER NOT NULL DEFAULT 0;
