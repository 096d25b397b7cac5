-- Placeholder: migration 0003 belongs to another change and replaces this file
-- when both are merged. Intentionally empty.
SELECT 1;
