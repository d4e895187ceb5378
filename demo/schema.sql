-- A production-shaped schema: users is large enough to count as large with
-- the default thresholds (guarded_ddl.large_table_rows = 100000). The row
-- count of users and orders may be set with psql -v rows=N (300000 by default).
\if :{?rows}
\else
\set rows 300000
\endif
CREATE EXTENSION guarded_ddl;

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (email);
INSERT INTO users (name, email)
SELECT 'User ' || i || ' Example', 'user' || i || '@example.com'
  FROM generate_series(1, :rows) AS i;

CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL,
    total numeric(10, 2) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orders (user_id, total)
SELECT 1 + (i::bigint * 7919) % :rows, (i % 500) + 0.99
  FROM generate_series(1, :rows) AS i;
VACUUM ANALYZE users, orders;

SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS size, reltuples::bigint AS rows
  FROM pg_class WHERE relname IN ('users', 'orders') ORDER BY 1;
