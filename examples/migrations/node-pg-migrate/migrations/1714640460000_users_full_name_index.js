// Expand: CREATE INDEX CONCURRENTLY cannot run in a transaction block, and
// node-pg-migrate wraps each migration in one unless told otherwise.
exports.up = (pgm) => {
  pgm.noTransaction();
  pgm.createIndex('users', 'full_name', { name: 'users_full_name', concurrently: true, ifNotExists: true });
};

exports.down = (pgm) => {
  pgm.noTransaction();
  pgm.dropIndex('users', 'full_name', { name: 'users_full_name', concurrently: true, ifExists: true });
};
