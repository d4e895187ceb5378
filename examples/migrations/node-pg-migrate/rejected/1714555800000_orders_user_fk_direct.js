// A foreign key added the naive way: it validates every row of orders while
// holding SHARE ROW EXCLUSIVE on orders and users. guarded_ddl stops it (rule
// add_foreign_key).
exports.up = (pgm) => {
  pgm.addConstraint('orders', 'orders_user_id_fkey', {
    foreignKeys: { columns: 'user_id', references: 'users (id)' },
  });
};

exports.down = (pgm) => {
  pgm.dropConstraint('orders', 'orders_user_id_fkey');
};
