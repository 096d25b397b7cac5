-- Placeholder so that 0005 applies on this branch alone: the migration with
-- this number comes from another change. Drop this file when that one is merged.
SELECT 1;
