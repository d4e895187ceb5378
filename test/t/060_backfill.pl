# guarded_ddl.backfill() with real concurrency on a 200,000-row table: a
# session holding row locks on matching rows (they are skipped, retried and
# filled once released), pgbench readers and writers meanwhile (none waits
# longer than guarded_ddl.lock_timeout + 25 ms), a cancel mid-way then a
# rerun to completion, a terminated backfill, and a max_duration stop.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('backfill');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
max_connections = 30
});
$node->start;
my $rows = 200000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION guarded_ddl;
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, full_name text, touched int NOT NULL DEFAULT 0);
INSERT INTO accounts (id, name) SELECT g, 'user ' || g FROM generate_series(1, $rows) g;
VACUUM ANALYZE accounts;
});
my $lock_timeout_ms = $node->safe_psql('postgres', 'SHOW guarded_ddl.lock_timeout');
$lock_timeout_ms =~ s/ms$// or die "unexpected lock_timeout $lock_timeout_ms";
my $bound_ms = $lock_timeout_ms + 25;

my $call = q{CALL guarded_ddl.backfill('accounts', 'full_name = name', 'full_name IS NULL', %d, '%s'%s)};
sub left { $node->safe_psql('postgres', 'SELECT count(*) FROM accounts WHERE full_name IS NULL') }
sub last_run {
    $node->safe_psql('postgres',
        'SELECT state, rows_done, coalesce(error, \'\') FROM guarded_ddl.backfills ORDER BY id DESC LIMIT 1');
}

# Starts a backfill in its own psql, as application "backfiller". Its output
# goes to files: a pipe nobody reads while the test sleeps could stall it.
my $dir = $PostgreSQL::Test::Utils::tmp_check;
my $runs = 0;
sub start_backfill {
    my ($sql) = @_;
    $runs++;
    my $h = IPC::Run::start(
        [ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', "SET application_name = 'backfiller'",
          '-c', $sql ],
        '>', "$dir/backfill$runs.out", '2>', "$dir/backfill$runs.err");
    return ($h, \(my $out = ''), \(my $err = ''));
}
# Waits for it and returns (success, stdout, stderr).
sub finish_backfill {
    my ($h, $out, $err) = @_;
    my $ok = $h->finish;
    $$out = slurp_file("$dir/backfill$runs.out");
    $$err = slurp_file("$dir/backfill$runs.err");
    return $ok;
}

# 1. Row locks held by another session, pgbench reading and writing meanwhile.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT id FROM accounts WHERE id BETWEEN 1001 AND 1100 FOR UPDATE');

open my $fh, '>', "$dir/read.sql" or die;
print $fh "\\set id random(1, $rows)\nSELECT name FROM accounts WHERE id = :id;\n";
close $fh;
open $fh, '>', "$dir/write.sql" or die;
# Writers stay away from the held rows: their waits are the backfill's doing.
print $fh "\\set id random(2000, $rows)\nUPDATE accounts SET touched = touched + 1 WHERE id = :id;\n";
close $fh;
my $bench_seconds = 10;
my $bench = IPC::Run::start(
    [ 'pgbench', '-n', '-T', $bench_seconds, '-c', '4', '-j', '2', '-R', '200',
      '-f', "$dir/read.sql\@3", '-f', "$dir/write.sql\@1", '--log', "--log-prefix=$dir/bench",
      '-d', $node->connstr('postgres') ],
    '>', "$dir/pgbench.out", '2>', "$dir/pgbench.err");
usleep(500_000);

$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
my $ddl_since = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
my $t0 = time;
my ($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 2000, '20ms', ''));
# Release the held rows after 2 s: the first walk has passed them by then.
usleep(2_000_000);
$holder->query_safe('COMMIT');
my $bf_ok = finish_backfill($bf, $bf_out, $bf_err);
my $backfill_seconds = time - $t0;
$bench->finish;
my $berr = slurp_file("$dir/pgbench.err");
ok($bf_ok, 'the backfill under load succeeded') or diag($$bf_err);
like($$bf_err, qr/NOTICE:  guarded_ddl\.backfill: 100 rows still match \(busy or new\); walking the table again/,
    'the 100 rows locked by another session were skipped, then walked again');
like($$bf_err, qr/NOTICE:  guarded_ddl\.backfill: done, $rows rows in \d+ batches/, 'every row was filled, once');
is(left(), '0', 'no row is left without full_name');
is(last_run(), "done|$rows|", 'the view shows the run done with every row');
is($node->safe_psql('postgres', 'SELECT count(*) FROM accounts WHERE full_name = name AND id BETWEEN 1001 AND 1100'),
    '100', 'the once-busy rows were filled after their lock was released');

# Waits of pgbench's statements while the backfill ran, from its per-transaction
# log: latency in microseconds (third field) less the schedule lag (seventh;
# with --rate, pgbench counts from the scheduled start); script 0 reads, 1
# writes.
my (@read, @write);
for my $log (glob("$dir/bench.*")) {
    open my $lf, '<', $log or die;
    my $first = 1;
    while (<$lf>) {
        my ($client, $tx, $us, $script, $epoch, $epoch_us, $lag) = split;
        next if $first-- > 0; # each client's first statement warms up its connection
        push @{ $script == 0 ? \@read : \@write }, ($us - ($lag // 0)) / 1000.0;
    }
    close $lf;
}
@read = sort { $a <=> $b } @read;
@write = sort { $a <=> $b } @write;
ok(@read > 100 && @write > 30, 'pgbench read and wrote while the backfill ran (' . scalar(@read) . ' reads, '
    . scalar(@write) . ' writes)') or diag($berr);
my $p99 = sub { my $l = shift; $l->[int(@$l * 0.99)] // 0 };
diag(sprintf('backfill of %d rows: %.1f s; reads max %.1f ms p99 %.1f ms; writes max %.1f ms p99 %.1f ms',
    $rows, $backfill_seconds, $read[-1] // 0, $p99->(\@read), $write[-1] // 0, $p99->(\@write)));
cmp_ok($read[-1] // 0, '<', $bound_ms, "no reader waited longer than lock_timeout + 25 ms ($bound_ms ms)");
cmp_ok($write[-1] // 0, '<', $bound_ms, "no writer waited longer than lock_timeout + 25 ms ($bound_ms ms)");
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
is($node->safe_psql('postgres', "SELECT count(*) FROM guarded_ddl.ddl_log WHERE started_at >= '$ddl_since'"),
    '0', 'the backfill ran no DDL');

# 2. Cancelled mid-way, then run again to completion.
$node->safe_psql('postgres', 'UPDATE accounts SET full_name = NULL');
($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 1000, '20ms', ''));
$node->poll_query_until('postgres',
    "SELECT rows_done >= 20000 FROM guarded_ddl.backfills WHERE state = 'running' ORDER BY id DESC LIMIT 1")
    or die 'the backfill did not start';
$node->safe_psql('postgres',
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'backfiller'");
finish_backfill($bf, $bf_out, $bf_err);
like($$bf_err, qr/ERROR:  canceling statement due to user request/, 'the cancel stopped the backfill');
my ($state, $done, $error) = split /\|/, last_run();
is($state, 'failed', 'the view shows the cancelled run failed');
is($error, 'canceling statement due to user request', 'with the cancel as its error');
my $left = left();
ok($done > 0 && $left > 0, "it stopped part way ($done done, $left left)");
is($done + $left, $rows, 'the committed batches are all kept, the cancelled one rolled back');
($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 5000, '0', ''));
finish_backfill($bf, $bf_out, $bf_err);
# More rows are left than ten batches (50,000): the start counts only that
# many, and reports the planner's estimate of the rest, no full count.
ok($left > 50000, "more rows are left than ten batches ($left)");
like($$bf_err, qr/NOTICE:  guarded_ddl\.backfill: about \d+ rows of public\.accounts match, batches of 5000\nDETAIL:  At least 50000 rows match; the rest is the planner's estimate\./,
    'the rerun starts with a bounded count and the estimate');
is(left(), '0', 'the rerun filled every row');
is(last_run(), "done|$left|", 'the rerun shows done with the rows that were left');

# 3. Terminated: the run left "running" shows as failed once its session is gone.
$node->safe_psql('postgres', 'UPDATE accounts SET full_name = NULL');
($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 1000, '20ms', ''));
$node->poll_query_until('postgres',
    "SELECT rows_done > 0 FROM guarded_ddl.backfills WHERE state = 'running' ORDER BY id DESC LIMIT 1")
    or die 'the backfill did not start';
$node->safe_psql('postgres',
    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = 'backfiller'");
finish_backfill($bf, $bf_out, $bf_err);
($state) = split /\|/, last_run();
is($state, 'failed', 'a terminated backfill shows as failed');

# 4. max_duration: stops with state stopped and says how to go on.
($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 1000, '50ms', q{, max_duration => '500ms'}));
finish_backfill($bf, $bf_out, $bf_err);
like($$bf_err, qr/NOTICE:  guarded_ddl\.backfill: stopped after max_duration, \d+ rows done/, 'max_duration stops it');
like($$bf_err, qr/HINT:  Run the same CALL again to go on/, 'and says how to resume');
($state, $done) = split /\|/, last_run();
is($state, 'stopped', 'the view shows it stopped');
ok(left() > 0, 'rows are left after the stop');
($bf, $bf_out, $bf_err) = start_backfill(sprintf($call, 10000, '0', ''));
finish_backfill($bf, $bf_out, $bf_err);
is(left(), '0', 'a rerun after the stop fills the rest');

$node->stop;
done_testing();
