// Only once no deployed version of the application reads users.name.
// guarded_ddl blocks it (rule drop_column) until a DBA approves:
//   SELECT guarded_ddl.approve('drop_column', 'users', 'name unused since release 42');
exports.up = (pgm) => {
  pgm.dropColumns('users', ['name']);
};

// Brings the column back empty; refill it with a batched backfill like
// examples/backfill.sh, not one UPDATE.
exports.down = (pgm) => {
  pgm.addColumns('users', { name: { type: 'text' } });
};
