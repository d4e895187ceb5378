// Expand: nullable columns without a default are a catalog change, no
// rewrite. guarded_ddl takes the ACCESS EXCLUSIVE lock in bounded attempts.
exports.up = (pgm) => {
  pgm.addColumns('users', { full_name: { type: 'text' }, display_name: { type: 'text' } });
};

// Dropping columns of a large table is rule drop_column: a DBA approves it
// first with guarded_ddl.approve('drop_column', 'users', '<why>').
exports.down = (pgm) => {
  pgm.dropColumns('users', ['full_name', 'display_name']);
};
