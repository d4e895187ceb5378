# The audit log with real sessions, crashes and restarts: what pg_regress
# cannot show. A record outlives the backend and the server; the writer
# comes back; a full queue loses nothing silently; DDL on the log tables and
# a record that cannot be inserted do not wedge the writer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('audit');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE TABLE t (id int PRIMARY KEY);
});

sub rows_for
{
    my ($pattern) = @_;
    return $node->safe_psql('postgres',
        "SELECT guarded_ddl.flush(); SELECT verdict || ' ' || status FROM guarded_ddl.ddl_history
          WHERE statement LIKE '$pattern' ORDER BY id");
}

sub audit_stat
{
    my ($column) = @_;
    return $node->safe_psql('postgres', "SELECT $column FROM guarded_ddl.audit_stats()");
}

# A blocked statement is in the log after flush, and its transaction aborted.
my ($ret, $out, $err) = $node->psql('postgres',
    "SET guarded_ddl.large_table_size = 0; ALTER TABLE t ALTER COLUMN id TYPE bigint;");
like($err, qr/guarded_ddl: rule alter_column_type_rewrite/, 'the type change is blocked');
is(rows_for('ALTER TABLE t ALTER COLUMN id TYPE bigint%'), "t\nblocked aborted",
    'the blocked statement is in the log, aborted');

# A lock the guard gave up on: the lock row says not granted, how many
# attempts, and who was in the way.
my $holder = $node->background_psql('postgres', on_error_stop => 0);
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
$holder->query_until(qr/locked/,
    "SET application_name = 'long_report'; BEGIN; SELECT count(*) FROM t;\n\\echo locked\n");
($ret, $out, $err) = $node->psql('postgres',
    "SET guarded_ddl.lock_retries = 3; SET guarded_ddl.lock_retry_delay = '10ms'; ALTER TABLE t ADD COLUMN waited int;");
like($err, qr/could not obtain AccessExclusiveLock on relation "public.t" after 3 attempts/, 'the DDL gives up');
$holder->query_safe('COMMIT');
$holder->quit;
is($node->safe_psql('postgres', qq{SELECT guarded_ddl.flush();
    SELECT d.verdict, d.sqlstate, l.lock_mode, l.granted, l.attempts, d.lock_attempts,
           l.wait_ms > 0, b->>'pid' = '$holder_pid', b->>'application', b->>'state', b->>'query'
      FROM guarded_ddl.ddl_log d JOIN guarded_ddl.lock_log l ON l.ddl_id = d.id,
           jsonb_array_elements(l.blockers) b
     WHERE d.statement LIKE 'ALTER TABLE t ADD COLUMN waited%'}),
    "t\nfailed|55P03|AccessExclusiveLock|f|3|3|t|t|long_report|idle in transaction|SELECT count(*) FROM t;",
    'the lock row records the attempts, the wait and the blocker');

# kill -9 of a backend with DDL in an open transaction: the record queued
# before the crash was written; the server restarts, the writer comes back.
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('BEGIN; ALTER TABLE t ADD COLUMN crash_col int;');
is(rows_for('ALTER TABLE t ADD COLUMN crash_col%'), "t\nallowed in progress",
    'DDL of an open transaction is logged as in progress');
kill 'KILL', $pid;
$bg->quit;
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
is(rows_for('ALTER TABLE t ADD COLUMN crash_col%'), "t\nallowed aborted",
    'after the crash the row is there and its transaction aborted');
$node->safe_psql('postgres', 'CREATE TABLE after_crash (a int)');
is(rows_for('CREATE TABLE after_crash%'), "t\nallowed committed",
    'the writer comes back after a crash restart');

# A clean restart keeps everything and the writer starts again on demand.
$node->restart;
$node->safe_psql('postgres', 'CREATE TABLE after_restart (a int)');
is(rows_for('CREATE TABLE after_%'), "t\nallowed committed\nallowed committed",
    'rows survive a restart and new ones are written');

# DDL on the log tables: a session holding them locked delays the writer,
# which neither fails nor drops anything and catches up afterwards.
my $locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe('BEGIN; LOCK TABLE guarded_ddl.ddl_log IN ACCESS EXCLUSIVE MODE;');
$node->safe_psql('postgres', 'CREATE TABLE while_locked (a int)');
is($node->safe_psql('postgres', "SELECT guarded_ddl.flush('1s')"), 'f',
    'flush times out while the log is locked');
my $failed_before = audit_stat('failed');
$locker->query_safe('COMMIT');
$locker->quit;
is(rows_for('CREATE TABLE while_locked%'), "t\nallowed committed", 'the writer catches up once the lock is gone');
is(audit_stat('failed'), $failed_before, 'no record was given up on');

# A superuser adds a column with a default to the log table: the writer
# fills it with its default, as INSERT would.
$node->safe_psql('postgres', "ALTER TABLE guarded_ddl.ddl_log ADD COLUMN ticket text DEFAULT 'none'");
$node->safe_psql('postgres', 'CREATE TABLE after_alter (a int)');
is(rows_for('CREATE TABLE after_alter%'), "t\nallowed committed", 'the writer copes with a changed table');
is($node->safe_psql('postgres',
    "SELECT ticket FROM guarded_ddl.ddl_log WHERE statement LIKE 'CREATE TABLE after_alter%'"),
    'none', "the added column has its default in the writer's row");

# A record the table refuses is logged to the server log and skipped; the
# next one is written.
$node->safe_psql('postgres',
    "ALTER TABLE guarded_ddl.ddl_log ADD CONSTRAINT no_comments CHECK (command <> 'COMMENT') NOT VALID");
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', "COMMENT ON TABLE t IS 'poison'; CREATE TABLE after_poison (a int);");
is(rows_for('CREATE TABLE after_poison%'), "t\nallowed committed", 'the record after the poison one is written');
# A later batch than the one that prepared the default: the writer keeps
# prepared defaults across batches, and their constants with them.
is($node->safe_psql('postgres',
    "SELECT ticket FROM guarded_ddl.ddl_log WHERE statement LIKE 'CREATE TABLE after_poison%'"),
    'none', 'a later batch fills the added column with its default too');
is(rows_for('COMMENT ON TABLE t%'), 't', 'the refused record is not in the table');
ok($node->log_contains(qr/the insert failed: new row for relation "ddl_log" violates check constraint "no_comments"\n.*DETAIL:  .*"command":"COMMENT"/, $log_offset),
    'the refused record is in the server log, whole');
is(audit_stat('failed'), $failed_before + 1, 'the failed counter says so');
$node->safe_psql('postgres',
    'ALTER TABLE guarded_ddl.ddl_log DROP CONSTRAINT no_comments, DROP COLUMN ticket');

# The writer fills the columns it knows by name and type, through the
# table access method: a column a superuser changed to another type is
# refused by name in the server log, not cast; changed back, the writer
# writes again.
$node->safe_psql('postgres', 'ALTER TABLE guarded_ddl.lock_log ALTER COLUMN attempts TYPE bigint');
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()'); # the ALTER's own record fails too
$failed_before = audit_stat('failed');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE TABLE retyped (a int)');
is($node->safe_psql('postgres', 'SELECT guarded_ddl.flush()'), 't', 'the queue drains past a retyped column');
ok($node->log_contains(qr/the insert failed: column "attempts" of relation "lock_log" is not a plain column of type integer\n.*DETAIL:  .*"CREATE TABLE retyped/, $log_offset),
    'a column of another type is named in the server log, with the record');
is(audit_stat('failed'), $failed_before + 1, 'the record is counted as failed');
$node->safe_psql('postgres', 'ALTER TABLE guarded_ddl.lock_log ALTER COLUMN attempts TYPE integer');
$node->safe_psql('postgres', 'CREATE TABLE retyped_back (a int)');
is(rows_for('CREATE TABLE retyped_back%'), "t\nallowed committed", 'written again once the type is back');

# Rows already holding the keys the writer's next records get (this
# server's system_identifier and the sequence's next ids, as a hand-made or
# restored row can): the primary key refuses those records, each goes to
# the server log whole and is counted, none is lost silently, and the
# writer goes on.
my $next_id = $node->safe_psql('postgres',
    q{SELECT guarded_ddl.flush() \g /dev/null
      SELECT last_value + 1 FROM guarded_ddl.ddl_log_id_seq});
$node->safe_psql('postgres', qq{
    INSERT INTO guarded_ddl.ddl_log (id, system_identifier, started_at, backend_pid, nesting_level,
                                     command, verdict, guard_mode, duration_ms)
    OVERRIDING SYSTEM VALUE
    SELECT i, guarded_ddl.system_identifier(), now(), 0, 0, 'TAKEN', 'allowed', 'enforce', 0
      FROM generate_series($next_id, $next_id + 2) AS i});
$failed_before = audit_stat('failed');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "CREATE TABLE dup_key_$_ (a int)") for 1 .. 5;
is($node->safe_psql('postgres', 'SELECT guarded_ddl.flush()'), 't', 'the queue drains past the taken keys');
my $dup_written = $node->safe_psql('postgres',
    "SELECT count(*) FROM guarded_ddl.ddl_log WHERE statement LIKE 'CREATE TABLE dup_key_%'");
my $dup_log = slurp_file($node->logfile, $log_offset);
my $dup_refused = () = $dup_log =~
    /the insert failed: duplicate key value violates unique constraint "ddl_log_pkey"\n.*DETAIL:  .*"CREATE TABLE dup_key_\d \(a int\)"/g;
ok($dup_refused >= 1, "the primary key refused a record ($dup_refused)");
is($dup_written + $dup_refused, 5, 'each statement is in the table or in the server log');
is(audit_stat('failed'), $failed_before + $dup_refused, 'the failed counter counts the refused records');
is(rows_for('CREATE TABLE dup_key_5%'), "t\nallowed committed", 'the writer goes on past the taken keys');
$node->safe_psql('postgres', "DELETE FROM guarded_ddl.ddl_log WHERE command = 'TAKEN'");

# A database without guarded_ddl: its DDL goes to the server log.
$node->safe_psql('postgres', 'CREATE DATABASE plain');
my $not_installed = audit_stat('not_installed');
$log_offset = -s $node->logfile;
$node->safe_psql('plain', 'CREATE TABLE in_plain (a int)');
$node->poll_query_until('postgres', "SELECT not_installed > $not_installed FROM guarded_ddl.audit_stats()")
  or die 'the record of a database without guarded_ddl never reached the server log';
ok($node->log_contains(qr/guarded_ddl is not installed in this database\n.*"CREATE TABLE in_plain/, $log_offset),
    'DDL in a database without guarded_ddl is in the server log');
# Its writer exits when idle, so the database can be dropped.
$node->poll_query_until('postgres',
    "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'guarded_ddl audit writer' AND datname = 'plain'")
  or die 'the writer never went idle';
$node->safe_psql('postgres', 'DROP DATABASE plain');

# A transaction's release that reaches the writer in a later batch than its
# statement: the written lock row gets its hold time then. And when purge()
# removed the statement's row in between, the release has nothing to update
# and is skipped, neither failing nor complaining.
my $failed_before = audit_stat('failed');
$log_offset = -s $node->logfile;
for my $case ('kept', 'purged') {
    my $session = $node->background_psql('postgres', on_error_stop => 1);
    $node->safe_psql('postgres', "CREATE TABLE later_$case (a int)");
    $session->query_safe("BEGIN; ALTER TABLE later_$case ADD COLUMN b int;");
    $node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
    is($node->safe_psql('postgres', "SELECT count(*) FROM guarded_ddl.ddl_log d
        JOIN guarded_ddl.lock_log l ON l.ddl_id = d.id
       WHERE d.statement LIKE 'ALTER TABLE later_$case%' AND l.granted AND l.held_ms IS NULL"),
        '1', "$case: the statement's lock row is written while the transaction holds the lock");
    $node->safe_psql('postgres', "DELETE FROM guarded_ddl.ddl_log WHERE statement LIKE 'ALTER TABLE later_$case%'")
      if $case eq 'purged';
    $session->query_safe('COMMIT');
    $session->quit;
    $node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM guarded_ddl.ddl_log d
    JOIN guarded_ddl.lock_log l ON l.ddl_id = d.id
   WHERE d.statement LIKE 'ALTER TABLE later_kept%' AND l.granted AND l.held_ms >= 0}),
    '1', 'kept: the later release sets its hold time');
is($node->safe_psql('postgres', "SELECT count(*) FROM guarded_ddl.ddl_log WHERE statement LIKE 'ALTER TABLE later_purged%'"),
    '0', 'purged: the release brought no row back');
is(audit_stat('failed'), $failed_before, 'purged: the release of a purged statement did not fail');
unlike(slurp_file($node->logfile, $log_offset), qr/guarded_ddl: audit record written/,
    'no record went to the server log');

# A tiny queue overflows: every record missing from the table is in the
# server log, and the counter matches exactly.
$node->append_conf('postgresql.conf', 'guarded_ddl.audit_queue_size = 2');
$node->restart;
$locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe('BEGIN; LOCK TABLE guarded_ddl.ddl_log IN ACCESS EXCLUSIVE MODE;');
$log_offset = -s $node->logfile;
my $issued = 20;
$node->safe_psql('postgres', join('', map { "CREATE TABLE overflow_$_ (a int);\n" } 1 .. $issued));
my $overflowed = audit_stat('overflowed');
ok($overflowed > 0, "the queue overflowed ($overflowed records)");
$locker->query_safe('COMMIT');
$locker->quit;
is($node->safe_psql('postgres', 'SELECT guarded_ddl.flush()'), 't', 'the queue drains');
my $logged = $node->safe_psql('postgres',
    "SELECT count(*) FROM guarded_ddl.ddl_log WHERE statement LIKE 'CREATE TABLE overflow_%'");
my $log = slurp_file($node->logfile, $log_offset);
my $log_lines = () = $log =~ /audit record written to the server log: audit queue full/g;
my $log_records = () = $log =~ /"CREATE TABLE overflow_\d+ \(a int\);?"/g;
is($logged + $overflowed, $issued, 'rows in the table plus overflowed records = statements issued');
# The locker's COMMIT queued the release of its lock while the queue was
# still full: that record overflowed too, after the count above.
is($log_lines, audit_stat('overflowed'), 'one server-log line per overflowed record');
is($log_records, $overflowed, 'each overflowed statement is in the server log');

# A full queue makes a statement wait for room rather than overflow: the
# session waits (audit_queue_wait) while the locker keeps the writer from
# writing, and once the locker commits every record is in the table. The
# locker itself, holding the lock the writer needs, does not wait: waiting
# there could only end in overflow.
$locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe("SET guarded_ddl.audit_queue_wait = 0; BEGIN; LOCK TABLE guarded_ddl.ddl_log IN ACCESS EXCLUSIVE MODE;");
my $overflowed_before = audit_stat('overflowed');
my ($wait_out, $wait_err) = ('', '');
my $waiter = IPC::Run::start(
    [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c',
      "SET application_name = 'queue_waiter'; SET guarded_ddl.audit_queue_wait = '60s';",
      map { ('-c', "CREATE TABLE waited_$_ (a int)") } 1 .. 5 ],
    '>', \$wait_out, '2>', \$wait_err);
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 1 FROM pg_stat_activity
     WHERE application_name = 'queue_waiter' AND wait_event_type = 'Extension'}),
    'a session with the queue full waits for room');
$locker->query_safe('COMMIT');
$locker->quit;
$waiter->finish;
is($wait_err, '', 'its statements succeed');
is($node->safe_psql('postgres', "SELECT guarded_ddl.flush();
    SELECT count(*) FROM guarded_ddl.ddl_log WHERE statement LIKE 'CREATE TABLE waited_%'"),
    "t\n5", 'once the writer could write, every record is in the table');
# The one record that overflowed is the locker's own release, queued at its
# COMMIT while it still held the lock the writer needed.
is(audit_stat('overflowed'), $overflowed_before + 1, 'none of the waiting session\'s records overflowed');

# pg_dump keeps the log: a restore into another database has every row.
my $max_id = $node->safe_psql('postgres', 'SELECT guarded_ddl.flush(); SELECT max(id) FROM guarded_ddl.ddl_log');
$max_id =~ s/^t\n//;
my $lock_rows = $node->safe_psql('postgres', "SELECT count(*) FROM guarded_ddl.lock_log WHERE ddl_id <= $max_id");
my $dump = $node->basedir . '/audit.sql';
$node->command_ok(['pg_dump', '-f', $dump, '-d', $node->connstr('postgres')], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $dump, '-d', $node->connstr('restored')],
    'the dump restores');
is($node->safe_psql('restored',
        "SELECT count(*) FROM guarded_ddl.ddl_log WHERE id <= $max_id") . ' '
      . $node->safe_psql('restored', "SELECT count(*) FROM guarded_ddl.lock_log WHERE ddl_id <= $max_id"),
    $node->safe_psql('postgres', "SELECT count(*) FROM guarded_ddl.ddl_log WHERE id <= $max_id") . " $lock_rows",
    'the restored log has every statement and lock row');

done_testing();
