# 64 databases run DDL at once, more than there are writer slots (16): the
# slots go round, every database's records are written within a second of
# its statement without waiting for its own next DDL, and the default queue
# does not overflow. The latency is the server's own: the commit timestamp
# of the writer's transaction that inserted the row, against the end of the
# statement (started_at + duration_ms), both from the server's clock.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $databases = 64;
my $seconds = 5;
# Statements a second in each database (three a transaction).
# Ten a second in each of 64 databases: 640 statements and as many lock
# releases a second through the queue. Without a limit this machine runs
# several times more, which outruns the default queue of 256 records with
# 64 databases taking turns at 16 writer slots (README: "Many databases").
my $rate = $ENV{GD_075_RATE} // 10;

my $node = PostgreSQL::Test::Cluster->new('many_databases');
$node->init;
# Worker processes: 16 writers, the launcher, and room for the rest.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
track_commit_timestamp = on
max_connections = 120
max_worker_processes = 24
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
my $log_offset = -s $node->logfile;
my $before = $node->safe_psql('postgres',
    'SELECT queued, written, overflowed, failed, not_installed FROM guarded_ddl.audit_stats()');
my ($queued0, $written0, $overflowed0, $failed0) = split /\|/, $before;

# One pgbench per database, one session each, three DDL statements a
# transaction, for $seconds seconds.
my $script = $node->basedir . '/ddl.sql';
open my $fh, '>', $script or die $!;
print $fh "CREATE TABLE churn (a int);\nALTER TABLE churn ADD COLUMN b int;\nDROP TABLE churn;\n";
close $fh;
my (%out, %err, @runs);
for my $db (@dbs) {
    push @runs, IPC::Run::start(
        [ 'pgbench', '-n', '-c', '1', '-T', $seconds, ($rate ? ('-R', $rate / 3) : ()), '-f', $script,
          '-d', $node->connstr($db) ],
        '>', \$out{$db}, '2>', \$err{$db});
}
my $sampled = $node->safe_psql('postgres', 'SELECT * FROM writers_at_once(' . (50 * $seconds) . ')');
$_->finish for @runs;

my %statements;
my $total = 0;
for my $db (@dbs) {
    my ($tx) = $out{$db} =~ /number of transactions actually processed: (\d+)/;
    die "pgbench in $db: $err{$db}" unless defined $tx;
    $statements{$db} = 3 * $tx;
    $total += 3 * $tx;
}
ok($total > 0, "the 64 sessions ran $total DDL statements");

$node->poll_query_until('postgres', 'SELECT pending = 0 FROM guarded_ddl.audit_stats()')
  or die 'the queue never drained';
my ($queued, $written, $overflowed, $failed) = split /\|/, $node->safe_psql('postgres',
    'SELECT queued, written, overflowed, failed FROM guarded_ddl.audit_stats()');
is($overflowed - $overflowed0, 0, 'nothing overflowed at the default queue size');
is($failed - $failed0, 0, 'no record failed');

# Every statement of every database is in its log, and how long after the
# statement's end the writer committed it.
my (@latency, @missing);
for my $db (@dbs) {
    my ($rows, $lat) = split /\|/, $node->safe_psql($db, q{
        SELECT count(*),
               string_agg(round(extract(epoch FROM pg_xact_commit_timestamp(xmin)
                     - (started_at + duration_ms * interval '1 ms')) * 1000, 1)::text, ' ')
          FROM guarded_ddl.ddl_log WHERE statement LIKE '%churn%'});
    push @missing, "$db: $rows of $statements{$db}" if $rows != $statements{$db};
    push @latency, split / /, $lat // '';
}
is(scalar(@missing), 0, 'every statement is in its database\'s log')
  or diag join("\n", @missing);
@latency = sort { $a <=> $b } @latency;
my $p = sub { $latency[ int($_[0] * $#latency) ] };
my ($max_writers, $mean_writers) = split /\|/, $sampled;
diag sprintf('%d statements in %d databases in %d s; latency ms: median %.1f, p90 %.1f, '
      . 'p99 %.1f, max %.1f; writers at once: max %d, mean %s',
    $total, $databases, $seconds, $p->(0.5), $p->(0.9), $p->(0.99), $latency[-1],
    $max_writers, $mean_writers);
is(scalar(@latency), $total, 'a latency for every statement');
cmp_ok($latency[-1], '<', 1000, 'every record was written within 1 s of its statement');
cmp_ok($max_writers, '>', 1, 'writers ran side by side');
unlike(slurp_file($node->logfile, $log_offset), qr/guarded_ddl: (no background worker|could not start|audit record written)/,
    'the server log has no audit complaint');

done_testing();
