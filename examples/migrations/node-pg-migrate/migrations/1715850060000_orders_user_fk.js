// NOT VALID: new rows are checked from now on, existing ones are not read
// while the lock is held.
exports.up = (pgm) => {
  pgm.sql('ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID');
};

exports.down = (pgm) => {
  pgm.dropConstraint('orders', 'orders_user_id_fkey');
};
