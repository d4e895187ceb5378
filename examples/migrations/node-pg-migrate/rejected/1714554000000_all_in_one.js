// The obvious migration, in one transaction. guarded_ddl stops it at the
// backfill (rule dml_under_strong_lock: it would rewrite every row of users
// while the ALTER's ACCESS EXCLUSIVE lock stalls every reader); the
// transaction rolls back, so nothing of it is applied and node-pg-migrate does
// not record it in pgmigrations.
exports.up = (pgm) => {
  pgm.addColumns('users', { full_name: { type: 'text' }, display_name: { type: 'text' } });
  pgm.sql("UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1)");
  pgm.alterColumn('users', 'full_name', { notNull: true });
  pgm.dropColumns('users', ['name']);
};

exports.down = false;
