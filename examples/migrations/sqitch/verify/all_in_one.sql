-- Verify users_name_split:all_in_one on pg

SELECT full_name, display_name FROM users WHERE false;
