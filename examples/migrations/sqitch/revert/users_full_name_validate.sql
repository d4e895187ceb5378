-- Revert users_name_split:users_full_name_validate from pg
-- A validated constraint cannot be made NOT VALID again; the check change's
-- revert drops it.

SELECT 1;
