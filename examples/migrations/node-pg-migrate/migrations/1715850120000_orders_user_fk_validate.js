// Its own transaction: the scan of orders runs under SHARE UPDATE EXCLUSIVE
// (and ROW SHARE on users), so the application keeps reading and writing.
exports.up = (pgm) => {
  pgm.sql('ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey');
};

// A validated constraint cannot be made NOT VALID again; the foreign key's
// own migration drops it.
exports.down = () => {};
