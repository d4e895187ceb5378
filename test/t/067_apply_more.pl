# CALL guarded_ddl.apply(): the recipes of reindex, detach_partition and
# refresh_materialized_view run their CONCURRENTLY forms at top level, in
# the background worker. An interrupted REINDEX CONCURRENTLY leaves invalid
# <index>_ccnew copies: the rerun drops them and reindexes. An interrupted
# DETACH PARTITION CONCURRENTLY leaves the partition "detach pending": the
# rerun finishes it with FINALIZE. A REFRESH CONCURRENTLY does not wait for
# the view's readers. The ATTACH PARTITION recipe scans the partition once,
# in VALIDATE, and the ATTACH itself not at all.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GuardedDDLApply;

my $node = PostgreSQL::Test::Cluster->new('apply_more');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
guarded_ddl.lock_timeout = '100ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE TABLE big (id int PRIMARY KEY, v int);
INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 50000) g;
CREATE INDEX big_v ON big (v);
CREATE TABLE parts (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (25000);
CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (25000) TO (50001);
INSERT INTO parts SELECT g, g FROM generate_series(1, 50000) g;
CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM big;
CREATE UNIQUE INDEX mv_id ON mv (id);
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['big', 'parts', 'parts_1', 'parts_2', 'mv']::regclass[]) t;
});

# Cancels apply(sql) while its worker waits for a lock held by another
# session; returns the caller's stderr.
sub cancel_while_waiting
{
    my ($sql) = @_;
    return cancel_apply_while_waiting($node, $sql, q{wait_event_type = 'Lock'});
}

sub worker_count
{
    return $node->safe_psql('postgres',
        q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl apply worker'});
}

# ---- REINDEX: interrupted while it waits for an old transaction ----
my $before = $node->safe_psql('postgres', q{SELECT 'big_v'::regclass::oid});
my $old = $node->background_psql('postgres');
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT count(*) FROM big');
my $err = cancel_while_waiting('REINDEX INDEX big_v');
like($err, qr/step 1 of 1: REINDEX INDEX CONCURRENTLY public\.big_v/,
    'reindex: the recipe runs REINDEX CONCURRENTLY');
like($err, qr/canceling statement due to user request/, 'reindex: the caller is cancelled');
is(worker_count(), '0', 'reindex: no worker is left');
is($node->safe_psql('postgres', q{
    SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ',' ORDER BY indexrelid::regclass::text)
      FROM pg_index WHERE indrelid = 'big'::regclass AND indexrelid::regclass::text LIKE 'big_v%'}),
    'big_v:true,big_v_ccnew:false',
    'reindex: the interrupted run left the invalid copy big_v_ccnew');
$old->query_safe('COMMIT');
$old->quit;
my ($ret, $out);
($ret, $out, $err) = $node->psql('postgres', q{CALL guarded_ddl.apply('REINDEX INDEX big_v')});
is($ret, 0, 'reindex: the rerun succeeds');
like($err, qr/DETAIL:  An interrupted REINDEX CONCURRENTLY left the invalid index public\.big_v_ccnew: it is dropped first\./,
    'reindex: the rerun says it drops the leftover');
like($err, qr/step 1 of 2: DROP INDEX CONCURRENTLY public\.big_v_ccnew.*step 2 of 2: REINDEX INDEX CONCURRENTLY public\.big_v/s,
    'reindex: the rerun drops the copy, then reindexes');
is($node->safe_psql('postgres', q{
    SELECT string_agg(indexrelid::regclass::text || ':' || indisvalid, ',' ORDER BY indexrelid::regclass::text)
      FROM pg_index WHERE indrelid = 'big'::regclass}),
    'big_pkey:true,big_v:true', 'reindex: the indexes are valid, no copy is left');
isnt($node->safe_psql('postgres', q{SELECT 'big_v'::regclass::oid}), $before,
    'reindex: big_v was rebuilt');

# ---- DETACH PARTITION: interrupted in its second transaction ----
$old = $node->background_psql('postgres');
$old->query_safe('BEGIN');
$old->query_safe('SELECT count(*) FROM parts');
$err = cancel_while_waiting('ALTER TABLE parts DETACH PARTITION parts_1');
like($err, qr/step 1 of 1: ALTER TABLE public\.parts DETACH PARTITION public\.parts_1 CONCURRENTLY/,
    'detach: the recipe runs DETACH PARTITION CONCURRENTLY');
like($err, qr/canceling statement due to user request/, 'detach: the caller is cancelled');
is(worker_count(), '0', 'detach: no worker is left');
is($node->safe_psql('postgres',
    q{SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'parts_1'::regclass}),
    't', 'detach: the interrupted run left parts_1 pending detach');
$old->query_safe('COMMIT');
$old->quit;
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE parts DETACH PARTITION parts_1')});
is($ret, 0, 'detach: the rerun succeeds');
like($err, qr/step 1 of 1: ALTER TABLE public\.parts DETACH PARTITION public\.parts_1 FINALIZE/,
    'detach: the rerun finishes the detach with FINALIZE');
is($node->safe_psql('postgres', q{
    SELECT (SELECT count(*) FROM pg_inherits WHERE inhrelid = 'parts_1'::regclass) || ':' ||
           relispartition FROM pg_class WHERE oid = 'parts_1'::regclass}),
    '0:false', 'detach: parts_1 is a table of its own');
is($node->safe_psql('postgres', 'SELECT count(*) FROM parts'), '25001',
    'detach: parts keeps the other partition\'s rows');
# Once more: parts_1 is no partition and the audit log shows the recipe ran
# (cancelled once, finished by FINALIZE): done already, nothing runs, no
# error. The same statement for a table that never was a partition of parts
# still fails as PostgreSQL fails it.
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE parts DETACH PARTITION parts_1')});
is($ret, 0, 'detach: the second rerun succeeds');
like($err, qr/done already \(public\.parts_1 is no partition of public\.parts; recipe \d+, run by an earlier apply, detached it\), skipped/,
    'detach: the second rerun recognises the finished detach');
unlike($err, qr/step 1 of 1/, 'detach: the second rerun runs no step');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE parts DETACH PARTITION big')});
isnt($ret, 0, 'detach: a table that never was a partition fails');
like($err, qr/relation "big" is not a partition of relation "parts"/,
    'detach: with PostgreSQL\'s error');

# ---- REFRESH MATERIALIZED VIEW: CONCURRENTLY, readers do not block it ----
$node->safe_psql('postgres', 'INSERT INTO big VALUES (50001, 1)');
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$reader->query_safe('SELECT count(*) FROM mv');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('REFRESH MATERIALIZED VIEW mv')});
is($ret, 0, 'refresh: apply succeeds while a reader holds the view');
like($err, qr/step 1 of 1: REFRESH MATERIALIZED VIEW CONCURRENTLY public\.mv/,
    'refresh: the recipe runs REFRESH CONCURRENTLY');
is($reader->query_safe('SELECT count(*) FROM mv'), '50000', 'refresh: the reader\'s snapshot is intact');
$reader->query_safe('COMMIT');
$reader->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM mv'), '50001', 'refresh: the view has the new row');
# Control: a plain REFRESH waits for the same reader.
$reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN');
$reader->query_safe('SELECT count(*) FROM mv');
($ret, $out, $err) = $node->psql('postgres',
    q{SET guarded_ddl.mode = off; SET lock_timeout = '200ms'; REFRESH MATERIALIZED VIEW mv});
like($err, qr/canceling statement due to lock timeout/,
    'control: a plain REFRESH waits for the reader');
$reader->query_safe('COMMIT');
$reader->quit;

# ---- ATTACH PARTITION: the partition is scanned once, by VALIDATE ----
$node->safe_psql('postgres', q{
CREATE TABLE att (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE att_1 (id int, v int);
CREATE TABLE att_2 (id int, v int);
INSERT INTO att_1 SELECT g, g FROM generate_series(0, 9999) g;
INSERT INTO att_2 SELECT g, g FROM generate_series(10000, 19999) g;
SELECT guarded_ddl.set_table_policy(t, large => true)
  FROM unnest(ARRAY['att', 'att_1', 'att_2']::regclass[]) t;
});
sub seq_scans
{
    my ($table) = @_;
    return $node->safe_psql('postgres',
        "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = '$table'::regclass");
}
my $scans_before = seq_scans('att_1');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE att ATTACH PARTITION att_1 FOR VALUES FROM (0) TO (10000)');}
    . q{SELECT pg_stat_force_next_flush()});
is($ret, 0, 'attach: apply succeeds');
like($err, qr/step 3 of 4: ALTER TABLE att ATTACH PARTITION att_1 .*step 4 of 4: ALTER TABLE public\.att_1 DROP CONSTRAINT att_1_partition_bound/s,
    'attach: CHECK, VALIDATE, ATTACH, DROP the helper');
is(seq_scans('att_1') - $scans_before, 1, 'attach: att_1 was scanned once (by VALIDATE), not by ATTACH');
is($node->safe_psql('postgres', q{
    SELECT relispartition || ':' || (SELECT count(*) FROM pg_constraint WHERE conrelid = 'att_1'::regclass)
      FROM pg_class WHERE oid = 'att_1'::regclass}),
    'true:0', 'attach: att_1 is a partition, no helper left');
# Control: a plain ATTACH scans the partition (the counter sees it).
$scans_before = seq_scans('att_2');
$node->safe_psql('postgres', q{SET guarded_ddl.mode = off;
    ALTER TABLE att ATTACH PARTITION att_2 FOR VALUES FROM (10000) TO (20000);
    SELECT pg_stat_force_next_flush()});
is(seq_scans('att_2') - $scans_before, 1, 'control: a plain ATTACH scans the partition');

$node->stop;
done_testing();
