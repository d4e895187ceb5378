# 64 databases run DDL at once, each as fast as its session can: every
# database's records are written within a second of its statement, without
# waiting for its own next DDL (the last records of each are written after
# the load stopped), and the default queue does not overflow. The latency
# is the server's own: the commit timestamp of the writer's transaction that
# inserted the row, against the end of the statement (started_at +
# duration_ms), both from the server's clock. Then the same databases with
# PostgreSQL's default of 8 worker processes, 7 writers for 64 databases:
# they take turns, slower, and nothing is lost. Last, a queue of 32 records:
# sessions wait for room rather than overflow.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $databases = 64;
my $seconds = 5;
# Statements a second in each database (0: as fast as it goes).
my $rate = $ENV{GD_075_RATE} // 0;

my $node = PostgreSQL::Test::Cluster->new('many_databases');
$node->init;
# Worker processes: a writer per busy database, the launcher, and room.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
track_commit_timestamp = on
max_connections = 120
max_worker_processes = 72
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
-- How many writers run, sampled every 20 ms for a while.
CREATE FUNCTION writers_at_once(samples int, OUT max_writers int, OUT mean_writers numeric)
LANGUAGE plpgsql AS $$
DECLARE
    n int;
    total int := 0;
BEGIN
    max_writers := 0;
    FOR i IN 1 .. samples LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT count(*) INTO n FROM pg_stat_activity
         WHERE backend_type = 'guarded_ddl audit writer';
        max_writers := greatest(max_writers, n);
        total := total + n;
        PERFORM pg_sleep(0.02);
    END LOOP;
    mean_writers := round(total::numeric / samples, 1);
END $$;
});
my @dbs = map { "busy$_" } 1 .. $databases;
for my $db (@dbs) {
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, 'CREATE EXTENSION guarded_ddl');
}
# Wait for the writers of the setup statements to go idle and exit.
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
$node->poll_query_until('postgres', q{
    SELECT pending = 0 AND (SELECT count(*) = 0 FROM pg_stat_activity
                             WHERE backend_type = 'guarded_ddl audit writer')
      FROM guarded_ddl.audit_stats()})
  or die 'the setup records were never written';
my $script = $node->basedir . '/ddl.sql';
open my $fh, '>', $script or die $!;
print $fh "CREATE TABLE churn (a int);\nALTER TABLE churn ADD COLUMN b int;\nDROP TABLE churn;\n";
close $fh;

# One pgbench per database, one session each, three DDL statements a
# transaction, for $seconds seconds at $rate statements a second (0: no
# limit). Waits for the queue to drain, without a flush() (which would start
# a writer itself), and returns what became of the statements.
sub run_load
{
    my ($seconds, $rate) = @_;
    my $log_offset = -s $node->logfile;
    my ($overflowed0, $failed0) = split /\|/,
      $node->safe_psql('postgres', 'SELECT overflowed, failed FROM guarded_ddl.audit_stats()');
    $node->safe_psql($_, 'TRUNCATE guarded_ddl.lock_log, guarded_ddl.ddl_log') for @dbs;
    my (%out, %err, @runs);
    for my $db (@dbs) {
        push @runs, IPC::Run::start(
            [ 'pgbench', '-n', '-c', '1', '-T', $seconds, ($rate ? ('-R', $rate / 3) : ()),
              '-f', $script, '-d', $node->connstr($db) ],
            '>', \$out{$db}, '2>', \$err{$db});
    }
    my $sampled = $node->safe_psql('postgres', 'SELECT * FROM writers_at_once(' . (50 * $seconds) . ')');
    $_->finish for @runs;
    my %r = (total => 0, missing => []);
    for my $db (@dbs) {
        my ($tx) = $out{$db} =~ /number of transactions actually processed: (\d+)/;
        die "pgbench in $db: $err{$db}" unless defined $tx;
        $r{statements}{$db} = 3 * $tx;
        $r{total} += 3 * $tx;
    }
    $node->poll_query_until('postgres', 'SELECT pending = 0 FROM guarded_ddl.audit_stats()')
      or die 'the queue never drained';
    my ($overflowed, $failed) = split /\|/,
      $node->safe_psql('postgres', 'SELECT overflowed, failed FROM guarded_ddl.audit_stats()');
    $r{overflowed} = $overflowed - $overflowed0;
    $r{failed} = $failed - $failed0;
    # Every statement of every database in its log, and how long after the
    # statement's end the writer committed it.
    my @latency;
    for my $db (@dbs) {
        my ($rows, $lat) = split /\|/, $node->safe_psql($db, q{
            SELECT count(*),
                   string_agg(round(extract(epoch FROM pg_xact_commit_timestamp(xmin)
                         - (started_at + duration_ms * interval '1 ms')) * 1000, 1)::text, ' ')
              FROM guarded_ddl.ddl_log WHERE statement LIKE '%churn%'});
        push @{ $r{missing} }, "$db: $rows of $r{statements}{$db}" if $rows != $r{statements}{$db};
        push @latency, split / /, $lat // '';
    }
    @latency = sort { $a <=> $b } @latency;
    $r{latency} = \@latency;
    ($r{max_writers}, $r{mean_writers}) = split /\|/, $sampled;
    $r{log} = slurp_file($node->logfile, $log_offset);
    my $p = sub { $latency[ int($_[0] * $#latency) ] // -1 };
    diag sprintf('%d statements in %d databases in %d s; latency ms: median %.1f, p90 %.1f, '
          . 'p99 %.1f, max %.1f; writers at once: max %d, mean %s; overflowed %d',
        $r{total}, $databases, $seconds, $p->(0.5), $p->(0.9), $p->(0.99), $latency[-1] // -1,
        $r{max_writers}, $r{mean_writers}, $r{overflowed});
    return \%r;
}

my $r = run_load($seconds, $rate);
ok($r->{total} > 0, "the 64 sessions ran $r->{total} DDL statements");
is($r->{overflowed}, 0, 'nothing overflowed at the default queue size');
is($r->{failed}, 0, 'no record failed');
is(scalar(@{ $r->{missing} }), 0, 'every statement is in its database\'s log')
  or diag join("\n", @{ $r->{missing} });
is(scalar(@{ $r->{latency} }), $r->{total}, 'a latency for every statement');
cmp_ok($r->{latency}[-1], '<', 1000, 'every record was written within 1 s of its statement');
cmp_ok($r->{max_writers}, '>', 1, 'writers ran side by side');
unlike($r->{log}, qr/guarded_ddl: (no background worker|audit record written)/,
    'the server log has no audit complaint');

# PostgreSQL's default max_worker_processes: the launcher and 7 writers for
# 64 databases. They take turns and wait longer; nothing is lost, and the
# shortage of worker processes is said once, not per attempt.
$node->adjust_conf('postgresql.conf', 'max_worker_processes', '8');
$node->restart;
$r = run_load(3, 5);
my $overflow_lines = () = $r->{log} =~ /audit record written to the server log: audit queue full/g;
is($r->{failed}, 0, 'short of workers: no record failed');
is(scalar(@{ $r->{latency} }) + $overflow_lines, $r->{total},
    'short of workers: each statement is in its log or (overflowed) in the server log');
cmp_ok($r->{max_writers}, '<=', 7, 'short of workers: at most 7 writers ran at once');
my $short_lines = () = $r->{log} =~ /no background worker process free for an audit writer/g;
cmp_ok($short_lines, '<=', 1, "short of workers: said at most once ($short_lines)");

# A queue an eighth of the default, with writers enough: once half of it is
# in use the writers stop gathering, and a session that finds it full waits
# for room (guarded_ddl.audit_queue_wait) instead of sending its record to
# the server log. The wait is raised from its 1 s so that a slow machine
# does not turn a long wait into an overflow.
$node->adjust_conf('postgresql.conf', 'max_worker_processes', '72');
$node->append_conf('postgresql.conf', qq{
guarded_ddl.audit_queue_size = 32
guarded_ddl.audit_queue_wait = '10s'
});
$node->restart;
$r = run_load($seconds, $rate);
ok($r->{total} > 0, "small queue: the 64 sessions ran $r->{total} DDL statements");
is($r->{overflowed}, 0, 'small queue: nothing overflowed');
is(scalar(@{ $r->{missing} }), 0, 'small queue: every statement is in its database\'s log')
  or diag join("\n", @{ $r->{missing} });

done_testing();
