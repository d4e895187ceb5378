-- Revert users_name_split:orders_user_fk_validate from pg
-- A validated constraint cannot be made NOT VALID again; the foreign key
-- change's revert drops it.

SELECT 1;
