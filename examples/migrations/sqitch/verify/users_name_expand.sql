-- Verify users_name_split:users_name_expand on pg

SELECT full_name, display_name FROM users WHERE false;
