# CALL guarded_ddl.apply() for every rule it has a recipe for, (1) end to end
# on a 200,000-row table while pgbench reads and writes it: no reader or
# writer that ran during the call waits longer than guarded_ddl.lock_timeout
# + 25 ms, and the catalogs end as the plain statement leaves them on a small
# copy; (2) each multi-step recipe interrupted at every step (a cancel of the
# caller, a terminated worker), then run again: the same final state, no
# helper object left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('apply_under_load');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
max_connections = 40
});
$node->start;
my $rows = 200000;
my $lock_timeout_ms = $node->safe_psql('postgres', 'SHOW guarded_ddl.lock_timeout');
$lock_timeout_ms =~ s/ms$// or die "unexpected lock_timeout $lock_timeout_ms";
my $bound_ms = $lock_timeout_ms + 25;

# A table of the shape every recipe works on, with its own domain, and an
# index for the DROP INDEX recipe.
sub make_table
{
    my ($t, $n, $large) = @_;
    my $sql = qq{
SET guarded_ddl.mode = off;
CREATE DOMAIN ${t}_dom AS int;
CREATE TABLE $t (id int PRIMARY KEY, v int, w int, u int, p_id int, d ${t}_dom, n int NOT NULL DEFAULT 0);
INSERT INTO $t SELECT g, g % 1000, g, g, g, g FROM generate_series(1, $n) g;
CREATE INDEX ${t}_pre_idx ON $t (w);
VACUUM ANALYZE $t;
};
    $sql .= "SELECT guarded_ddl.set_table_policy('$t', large => true);\n" if $large;
    $node->safe_psql('postgres', $sql);
}

# The statement each rule blocks on a large table; %t stands for the table.
# VALIDATE of a table's CHECK or FOREIGN KEY and the CONCURRENTLY builds let
# writers through; the ACCESS EXCLUSIVE steps (ADD ... NOT VALID, SET NOT
# NULL proved by the CHECK, DROP CONSTRAINT, ADD ... USING INDEX) are short
# and their lock waits bounded by the guard. ALTER DOMAIN ... VALIDATE
# CONSTRAINT is the exception: PostgreSQL 15 locks every table using the
# domain in SHARE mode for the scan, so writers wait for the whole scan
# (tens of ms on these 200,000 rows; it grows with the table).
my $pg18 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 180000;
my @recipes = (
    [ add_check_constraint => 'ALTER TABLE %t ADD CHECK (v >= 0)', 2 ],
    [ add_foreign_key => 'ALTER TABLE %t ADD FOREIGN KEY (p_id) REFERENCES p', 2 ],
    # PostgreSQL 18: a NOT NULL constraint added NOT VALID, then validated.
    [ set_not_null_scan => 'ALTER TABLE %t ALTER COLUMN w SET NOT NULL', $pg18 ? 2 : 4 ],
    [ alter_domain_add_constraint => 'ALTER DOMAIN %t_dom ADD CHECK (VALUE >= 0)', 2 ],
    [ create_index => 'CREATE INDEX %t_v_idx ON %t (v)', 1 ],
    [ add_unique_constraint => 'ALTER TABLE %t ADD CONSTRAINT %t_u_key UNIQUE (u)', 2 ],
    [ drop_index => 'DROP INDEX %t_pre_idx', 1 ],
);
sub stmt { my ($r, $t) = @_; (my $s = $r->[1]) =~ s/%t/$t/g; return $s }

# The catalog state of table t and its domain, with t's name written T:
# constraints (kind, validated, definition), NOT NULL columns, indexes
# (valid, ready, definition).
sub catalog_state
{
    my ($t) = @_;
    return $node->safe_psql('postgres', qq{
SELECT string_agg(replace(x, '$t', 'T'), E'\n' ORDER BY x) FROM (
  SELECT 'constraint ' || conname || ' ' || contype::text || ' validated=' || convalidated
         || ' ' || pg_get_constraintdef(oid) AS x
    FROM pg_constraint WHERE conrelid = '$t'::regclass OR contypid = '${t}_dom'::regtype
  UNION ALL
  SELECT 'column ' || attname || ' notnull=' || attnotnull FROM pg_attribute
   WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped
  UNION ALL
  SELECT 'index ' || indexrelid::regclass::text || ' valid=' || indisvalid || ' ready=' || indisready
         || ' ' || pg_get_indexdef(indexrelid)
    FROM pg_index WHERE indrelid = '$t'::regclass) s});
}

# Objects of table t a recipe could leave behind: the SET NOT NULL helper
# CHECK, an unvalidated constraint, an invalid index. (PostgreSQL 18's own
# NOT NULL constraints are named *_not_null too: only CHECKs count.)
sub helpers_left
{
    my ($t) = @_;
    return $node->safe_psql('postgres', qq{
SELECT count(*) FROM (
  SELECT conname FROM pg_constraint
   WHERE (conrelid = '$t'::regclass OR contypid = '${t}_dom'::regtype)
     AND ((contype = 'c' AND conname LIKE '%not_null%') OR NOT convalidated)
  UNION ALL
  SELECT indexrelid::regclass::text FROM pg_index
   WHERE indrelid = '$t'::regclass AND NOT (indisvalid AND indisready)) s});
}

$node->safe_psql('postgres', qq{
CREATE EXTENSION guarded_ddl;
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT generate_series(1, $rows);
VACUUM ANALYZE p;
});

# ---- 1. Each recipe on 200,000 rows while pgbench reads and writes ----
make_table('big', $rows, 1);
make_table('cmp', 1000, 0);

my $dir = $PostgreSQL::Test::Utils::tmp_check;
open my $fh, '>', "$dir/read.sql" or die;
print $fh "\\set id random(1, $rows)\nSELECT v, w FROM big WHERE id = :id;\n";
close $fh;
open $fh, '>', "$dir/write.sql" or die;
print $fh "\\set id random(1, $rows)\nUPDATE big SET n = n + 1 WHERE id = :id;\n";
close $fh;

my $bench_seconds = 8;

# Runs sql in psql while pgbench (4 clients, 400 transactions a second, 3
# reads for 1 write) works on big. Returns psql's exit code and stderr, the
# call's duration, whether pgbench ran all along, and the transactions that
# overlapped the call: their count, the worst read's and write's wait in ms.
sub under_load
{
    my ($tag, $sql) = @_;
    my $prefix = "$dir/bench_$tag";
    my $bench = IPC::Run::start(
        [ 'pgbench', '-n', '-T', $bench_seconds, '-c', '4', '-j', '2', '-R', '400',
          '-f', "$dir/read.sql\@3", '-f', "$dir/write.sql\@1", '--log', "--log-prefix=$prefix",
          $node->connstr('postgres') ],
        '>', "$prefix.out", '2>', "$prefix.err");
    my $bench_start = time;
    usleep(1_000_000);
    my $t0 = time;
    my ($ret, $out, $err) = $node->psql('postgres', $sql);
    my $t1 = time;
    $bench->finish;

    # Each transaction's wait: its latency less the schedule lag (with --rate
    # pgbench counts from the scheduled start); the log line is written at its
    # end, so it started at end - wait. Those overlapping the call count.
    my ($n, $max_read, $max_write) = (0, 0, 0);
    for my $log (glob("$prefix.*"))
    {
        next unless $log =~ /\.\d+(?:\.\d+)?$/;
        open my $lf, '<', $log or die;
        my $first = 1;
        while (<$lf>)
        {
            my ($client, $tx, $us, $script, $epoch, $epoch_us, $lag) = split;
            next if $first-- > 0;    # the first one of each thread warms up its connection
            my $wait = ($us - ($lag // 0)) / 1000.0;
            my $end = $epoch + $epoch_us / 1e6;
            next if $end < $t0 || $end - $wait / 1000.0 > $t1;
            $n++;
            if ($script == 0) { $max_read = $wait if $wait > $max_read }
            else { $max_write = $wait if $wait > $max_write }
        }
        close $lf;
    }
    return {
        ret => $ret, err => $err, seconds => $t1 - $t0,
        covered => $t1 < $bench_start + $bench_seconds - 0.2,
        n => $n, read => $max_read, write => $max_write,
        max => ($max_read > $max_write ? $max_read : $max_write),
        bench_err => slurp_file("$prefix.err") };
}

# The measure can fail: a plain statement holding SHARE on big for 300 ms
# (the guard off) makes the writers wait about that long.
my $control = under_load('control',
    'SET guarded_ddl.mode = off; BEGIN; LOCK TABLE big IN SHARE MODE; SELECT pg_sleep(0.3); COMMIT');
diag(sprintf('control, SHARE held 300 ms: %d transactions; worst read %.1f ms, worst write %.1f ms',
    $control->{n}, $control->{read}, $control->{write}));
cmp_ok($control->{write}, '>', 250, 'control: the measure sees writers wait behind a 300 ms SHARE lock');

my %worst;
for my $r (@recipes)
{
    my ($rule, undef, $steps) = @$r;
    my $since = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
    my $m = under_load($rule, 'CALL guarded_ddl.apply($$' . stmt($r, 'big') . '$$)');
    is($m->{ret}, 0, "$rule: apply succeeds under load") or diag($m->{err});
    like($m->{err}, qr/runs as the recipe of rule $rule, in $steps steps?/, "$rule: apply ran the recipe")
      or diag($m->{err});
    ok($m->{covered}, "$rule: pgbench ran for the whole call");
    $worst{$rule} = $m->{max};
    # The guard's own lock waits for the recipe's steps.
    $node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
    my $locks = $node->safe_psql('postgres', qq{
SELECT count(*) || ' lock rows, ' || coalesce(max(l.attempts), 0) || ' attempts at most, '
       || round(coalesce(sum(l.wait_ms), 0)::numeric, 1) || ' ms waited'
  FROM guarded_ddl.ddl_log d JOIN guarded_ddl.lock_log l ON l.ddl_id = d.id
 WHERE d.started_at >= '$since' AND d.recipe_id IS NOT NULL});
    diag(sprintf('%s: apply %.2f s; %d transactions during it; worst read %.1f ms, worst write %.1f ms; '
        . 'the steps\' locks: %s', $rule, $m->{seconds}, $m->{n}, $m->{read}, $m->{write}, $locks));
    ok($m->{n} > 0, "$rule: pgbench ran transactions during the call ($m->{n})")
      or diag($m->{bench_err});
    cmp_ok($m->{max}, '<', $bound_ms,
        "$rule: no reader or writer waited longer than lock_timeout + 25 ms ($bound_ms ms)")
      or diag($node->safe_psql('postgres', qq{
SELECT d.statement, l.relation, l.lock_mode, l.granted, round(l.wait_ms::numeric, 1),
       round(l.held_ms::numeric, 1), l.attempts
  FROM guarded_ddl.ddl_log d JOIN guarded_ddl.lock_log l ON l.ddl_id = d.id
 WHERE d.started_at >= '$since' ORDER BY l.id}));

    # The plain statement on the small copy, the guard off.
    $node->safe_psql('postgres', 'SET guarded_ddl.mode = off; ' . stmt($r, 'cmp'));
    is(catalog_state('big'), catalog_state('cmp'),
        "$rule: the catalogs are as the plain statement leaves them");
    is(helpers_left('big'), '0', "$rule: no helper object is left");
}

# ---- 2. Each multi-step recipe interrupted at every step, then rerun ----
# A ddl_command_start event trigger holds the gate_at-th DDL command run
# (counted by gate_seq) while a session holds advisory lock 4242: the apply
# caller (or its worker) then sits inside step k, in pg_sleep.
$node->safe_psql('postgres', q{
CREATE TABLE gate_ctl (at bigint NOT NULL);
INSERT INTO gate_ctl VALUES (0);
CREATE SEQUENCE gate_seq;
CREATE FUNCTION gate() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('gate_seq') = (SELECT at FROM gate_ctl) THEN
        WHILE NOT pg_try_advisory_lock_shared(4242) LOOP
            PERFORM pg_sleep(0.01);
        END LOOP;
        PERFORM pg_advisory_unlock_shared(4242);
    END IF;
END $$;
CREATE EVENT TRIGGER gate ON ddl_command_start EXECUTE FUNCTION gate();
});
my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(4242)');

sub start_apply
{
    my ($text) = @_;
    my $bg = $node->background_psql('postgres', on_error_stop => 0);
    my $pid = $bg->query_safe('SELECT pg_backend_pid()');
    $bg->{stdin} .= "CALL guarded_ddl.apply(\$\$$text\$\$);\n\\echo apply_done\n";
    $bg->{run}->pump_nb;
    return ($bg, $pid);
}

sub finish_apply
{
    my ($bg) = @_;
    $bg->{stdout} = '';
    $bg->query_until(qr/apply_done/, '');
    my $err = $bg->{stderr};
    $bg->quit;
    return $err;
}

my $worker_q = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'guarded_ddl apply worker'};
my $case = 0;
for my $r (@recipes)
{
    my ($rule, undef, $steps) = @$r;
    next if $steps < 2;
    make_table("ref_$rule", 200, 0);
    $node->safe_psql('postgres', "SET guarded_ddl.mode = off; " . stmt($r, "ref_$rule"));
    my $expected = catalog_state("ref_$rule");
    for my $k (1 .. $steps)
    {
        my @how = ('cancel');
        # A worker step: also with the worker terminated.
        push @how, 'terminate worker' if $rule eq 'add_unique_constraint' && $k == 1;
        for my $how (@how)
        {
            $case++;
            my $t = "i$case";
            my $what = "$rule, step $k of $steps, $how";
            make_table($t, 1000, 1);
            my $text = stmt($r, $t);
            $node->safe_psql('postgres', "UPDATE gate_ctl SET at = $k; SELECT setval('gate_seq', 1, false)");
            my ($bg, $pid) = start_apply($text);
            my $in_step = $node->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE (pid = $pid OR backend_type = 'guarded_ddl apply worker') AND wait_event = 'PgSleep'});
            ok($in_step, "$what: apply sits in the step");
            my $worker = $node->safe_psql('postgres', $worker_q);
            if ($how eq 'cancel')
            {
                $node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
            }
            else
            {
                ok($worker ne '', "$what: the step runs in a worker");
                $node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
            }
            my $err = finish_apply($bg);
            like($err, qr/step $k of $steps: (?:(?!step \d+ of).)*\z/s, "$what: the last step begun is step $k")
              or diag($err);
            if ($how eq 'cancel')
            {
                like($err, qr/ERROR:  canceling statement due to user request/, "$what: apply stops with the cancel");
            }
            else
            {
                like($err, qr/ERROR:  terminating background worker "guarded_ddl apply worker" due to administrator command/,
                    "$what: apply stops with the worker's error");
                # Its CONTEXT names the step, as for any step's error.
                like($err, qr/ERROR:  terminating background worker[^\n]*\n(?:(?:DETAIL|HINT):[^\n]*\n)*CONTEXT:  (?:[^\n]*\n)*?SQL statement "CREATE UNIQUE INDEX CONCURRENTLY [^\n]*"\ntop-level step of guarded_ddl\.apply, run by a background worker/,
                    "$what: the worker's error names the step in its CONTEXT") or diag($err);
            }
            $node->poll_query_until('postgres', "SELECT count(*) = 0 FROM ($worker_q) w")
              or diag("$what: a worker is left");
            $node->safe_psql('postgres', 'UPDATE gate_ctl SET at = 0');
            my ($ret, $out, $err2) = $node->psql('postgres', "CALL guarded_ddl.apply(\$\$$text\$\$)");
            is($ret, 0, "$what: the rerun succeeds") or diag($err2);
            is(catalog_state($t), $expected, "$what: the final state is the plain statement's");
            is(helpers_left($t), '0', "$what: no helper object is left");
        }
    }
}

# The CONCURRENTLY build of add_unique_constraint interrupted where it waits
# for an old snapshot: an invalid index is left, the rerun rebuilds it.
for my $how ('cancel', 'terminate worker')
{
    $case++;
    my $t = "i$case";
    my $what = "add_unique_constraint, step 1 waiting for an old snapshot, $how";
    make_table($t, 1000, 1);
    my $old = $node->background_psql('postgres');
    $old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
    $old->query_safe('SELECT 1');
    my $text = "ALTER TABLE $t ADD CONSTRAINT ${t}_u_key UNIQUE (u)";
    my ($bg, $pid) = start_apply($text);
    $node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE backend_type = 'guarded_ddl apply worker' AND wait_event = 'virtualxid'})
      or die "$what: the worker did not wait";
    if ($how eq 'cancel') { $node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)") }
    else { $node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM ($worker_q) w") }
    my $err = finish_apply($bg);
    like($err, $how eq 'cancel' ? qr/ERROR:  canceling statement due to user request/
        : qr/ERROR:  terminating background worker "guarded_ddl apply worker" due to administrator command/,
        "$what: apply stops with the interruption's error");
like($err, qr/ERROR:  [^\n]*\n(?:(?:DETAIL|HINT):[^\n]*\n)*CONTEXT:  SQL statement "CREATE UNIQUE INDEX CONCURRENTLY ${t}_u_key [^\n]*"\ntop-level step of guarded_ddl\.apply, run by a background worker/,
    "$what: the error names the step in its CONTEXT") or diag($err);
    $node->poll_query_until('postgres', "SELECT count(*) = 0 FROM ($worker_q) w")
      or diag("$what: a worker is left");
    is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = '${t}_u_key'::regclass"),
        'f', "$what: an invalid index is left");
    $old->query_safe('COMMIT');
    $old->quit;
    my ($ret, $out, $err2) = $node->psql('postgres', "CALL guarded_ddl.apply(\$\$$text\$\$)");
    is($ret, 0, "$what: the rerun succeeds") or diag($err2);
    is(catalog_state($t), catalog_state('ref_add_unique_constraint'), "$what: the final state is the plain statement's");
    is(helpers_left($t), '0', "$what: no helper object is left");
}

$gate->quit;
diag('worst wait per recipe (ms): ' . join(', ', map { sprintf('%s %.1f', $_->[0], $worst{ $_->[0] }) } @recipes));
$node->stop;
done_testing();
