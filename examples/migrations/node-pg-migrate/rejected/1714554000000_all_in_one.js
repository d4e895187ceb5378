// The obvious migration, in one transaction. guarded_ddl stops it at SET NOT
// NULL (rule set_not_null_scan: it would read all of users under an ACCESS
// EXCLUSIVE lock); the transaction rolls back, so nothing of it is applied and
// node-pg-migrate does not record it in pgmigrations.
exports.up = (pgm) => {
  pgm.addColumns('users', { full_name: { type: 'text' }, display_name: { type: 'text' } });
  pgm.sql("UPDATE users SET full_name = name, display_name = split_part(name, ' ', 1)");
  pgm.alterColumn('users', 'full_name', { notNull: true });
  pgm.dropColumns('users', ['name']);
};

exports.down = false;
