// Its own migration, so its own transaction (with --no-single-transaction):
// VALIDATE scans users under SHARE UPDATE EXCLUSIVE, which lets reads and
// writes go on. In the transaction that added the constraint it would scan
// under ACCESS EXCLUSIVE (rule validate_under_strong_lock).
exports.up = (pgm) => {
  pgm.sql('ALTER TABLE users VALIDATE CONSTRAINT users_full_name_not_null');
};

// A validated constraint cannot be made NOT VALID again; the check's own
// migration drops it.
exports.down = () => {};
