// The validated check proves full_name has no NULL, so SET NOT NULL skips its
// scan (guarded_ddl allows it); the check is then redundant.
exports.up = (pgm) => {
  pgm.alterColumn('users', 'full_name', { notNull: true });
  pgm.dropConstraint('users', 'users_full_name_not_null');
};

exports.down = (pgm) => {
  pgm.sql('ALTER TABLE users ADD CONSTRAINT users_full_name_not_null CHECK (full_name IS NOT NULL) NOT VALID');
  pgm.alterColumn('users', 'full_name', { notNull: false });
};
