# The lock guard with real concurrent sessions, for what needs more than
# isolationtester can show: the blockers named in the DETAIL, retries that
# succeed, cancels and statement_timeout passing through unchanged, and the
# statements that cannot run in a transaction block.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lock_guard');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE TABLE t (id int PRIMARY KEY);
INSERT INTO t SELECT generate_series(1, 1000);
});
my $role = $node->safe_psql('postgres', 'SELECT current_user');

# Settings that make the guard give up within a second.
my $quick = q{SET guarded_ddl.lock_retries = 4; SET guarded_ddl.lock_retry_delay = '20ms';
SET client_min_messages = debug1; \set VERBOSITY verbose
};

# Starts a session holding a lock on t, with the given SQL before the echo.
sub hold
{
    my ($sql) = @_;
    my $bg = $node->background_psql('postgres', on_error_stop => 0);
    $bg->query_safe("SET application_name = 'holder'");
    my $pid = $bg->query_safe('SELECT pg_backend_pid()');
    $bg->query_until(qr/locked/, "$sql\n\\echo locked\n");
    return ($bg, $pid);
}

# The DETAIL names the real blocker: pid, role, application, state, age, query.
my ($holder, $pid) = hold('BEGIN; SELECT count(*) FROM t;');
my ($ret, $out, $err) = $node->psql('postgres', $quick . 'ALTER TABLE t ADD COLUMN a int;');
isnt($ret, 0, 'ALTER TABLE fails while the lock is held');
like($err, qr/ERROR:  55P03: guarded_ddl: could not obtain AccessExclusiveLock on relation "public.t" after 4 attempts in \d/,
    'the error is 55P03 and names relation, mode and attempts');
like($err, qr/DETAIL:  Process $pid \(role "$role", application "holder", state "idle in transaction", transaction open for [\d.]+ m?s\) holds a conflicting lock; its current or last query: "SELECT count\(\*\) FROM t;"\./,
    'the DETAIL names the blocking session');
like($err, qr/HINT:  Other sessions never queued behind this statement for more than 100 ms at a time\./,
    'the HINT says what the guard protected and what to do');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'"),
    '0', 'nothing was applied');
$holder->query_safe('COMMIT');

# The blocker ends during the retries: the DDL goes through, after retrying.
($holder, $pid) = hold('BEGIN; SELECT count(*) FROM t;');
$holder->{stdin} .= "SELECT pg_sleep(0.4); COMMIT;\n";
$holder->{run}->pump_nb;
($ret, $out, $err) = $node->psql('postgres',
    "SET guarded_ddl.lock_budget = '20s'; SET client_min_messages = debug1; ALTER TABLE t ADD COLUMN b int;");
is($ret, 0, 'ALTER TABLE succeeds once the blocker commits');
like($err, qr/AccessExclusiveLock on relation "public.t" granted after ([2-9]|\d\d+) attempts, waited \d+ ms/,
    'the lock was granted after several attempts, and the wait is recorded');
$holder->quit;

# statement_timeout and cancels end the retries with their own error.
($holder, $pid) = hold('BEGIN; SELECT count(*) FROM t;');
($ret, $out, $err) = $node->psql('postgres',
    "\\set VERBOSITY verbose\nSET guarded_ddl.lock_budget = '30s'; SET statement_timeout = '300ms'; ALTER TABLE t ADD COLUMN c int;");
like($err, qr/ERROR:  57014: canceling statement due to statement timeout/, 'statement_timeout propagates unchanged');
my $ddl = $node->background_psql('postgres', on_error_stop => 0);
my $ddl_pid = $ddl->query_safe('SELECT pg_backend_pid()');
$ddl->{stdin} .= "SET guarded_ddl.lock_budget = '30s'; ALTER TABLE t ADD COLUMN c int;\n";
$ddl->{run}->pump_nb;
$node->poll_query_until('postgres',
    "SELECT wait_event IN ('Extension', 'relation', 'virtualxid') FROM pg_stat_activity WHERE pid = $ddl_pid")
  or die 'the DDL never started retrying';
$node->safe_psql('postgres', "SELECT pg_cancel_backend($ddl_pid)");
my $cancelled = $ddl->query('SELECT 1');
like($ddl->{stderr}, qr/canceling statement due to user request/, 'a cancel during the retries propagates unchanged');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $ddl_pid"), '1',
    'the cancelled session is still alive');
$ddl->quit;
$holder->query_safe('COMMIT');

# CREATE INDEX CONCURRENTLY gets try-locks only, and gives up the same way.
($holder, $pid) = hold('BEGIN; LOCK t IN SHARE UPDATE EXCLUSIVE MODE;');
($ret, $out, $err) = $node->psql('postgres', $quick . 'CREATE INDEX CONCURRENTLY t_id_cic ON t (id);');
like($err, qr/55P03: guarded_ddl: could not obtain ShareUpdateExclusiveLock on relation "public.t" after 4 attempts/,
    'CREATE INDEX CONCURRENTLY fails with the guard\'s 55P03');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 't_id_cic'"), '0',
    'it left no invalid index behind');
$holder->query_safe('COMMIT');
($ret, $out, $err) = $node->psql('postgres', 'CREATE INDEX CONCURRENTLY t_id_cic ON t (id);');
is($ret, 0, 'CREATE INDEX CONCURRENTLY succeeds without the blocker');

# VACUUM FULL commits between tables: its lock wait is capped, and the
# session's lock_timeout is back afterwards.
($holder, $pid) = hold('BEGIN; SELECT count(*) FROM t;');
($ret, $out, $err) = $node->psql('postgres',
    "\\set VERBOSITY verbose\nSET lock_timeout = '5min'; VACUUM FULL t; SHOW lock_timeout;", on_error_stop => 0);
like($err, qr/ERROR:  55P03: canceling statement due to lock timeout/, 'VACUUM FULL waits no longer than the guard allows');
like($out, qr/^5min$/m, 'the session\'s lock_timeout is restored after VACUUM FULL');
$holder->quit;

$node->stop;
done_testing();
