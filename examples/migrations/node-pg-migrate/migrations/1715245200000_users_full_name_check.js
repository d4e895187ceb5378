// Contract, after the backfill: NOT VALID checks new and updated rows only,
// so nothing is scanned under the lock. node-pg-migrate's addConstraint has
// no NOT VALID option, hence pgm.sql.
exports.up = (pgm) => {
  pgm.sql('ALTER TABLE users ADD CONSTRAINT users_full_name_not_null CHECK (full_name IS NOT NULL) NOT VALID');
};

exports.down = (pgm) => {
  pgm.dropConstraint('users', 'users_full_name_not_null');
};
