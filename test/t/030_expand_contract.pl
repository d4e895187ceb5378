# Issue 7, end to end: the users.name split of examples/ (users split into
# full_name and display_name, orders referencing users) run through two real
# migration tools, sqitch and node-pg-migrate, against a server that preloads
# guarded_ddl and holds production-shaped tables counted as large:
#   1. the all-in-one migration fails in the tool with GD001, the rule and the
#      recipe, is not recorded as applied, and nothing of it is applied;
#   2. expand (columns, CREATE INDEX CONCURRENTLY) passes, lock grants logged;
#   3. the batched backfill, interrupted and rerun, fills the columns while a
#      pgbench read/write workload runs without a single error;
#   4. contract: CHECK NOT VALID, VALIDATE, SET NOT NULL (no scan) pass;
#      DROP COLUMN is blocked until a DBA approves it;
#   5. a foreign key without NOT VALID is blocked, NOT VALID + VALIDATE pass;
#   6. a migration behind a long transaction retries without queueing readers
#      behind it, fails with 55P03 naming the blocker when its budget runs out,
#      and succeeds when the blocker ends in time.
# The tools are installed by test/run.sh (sqitch from Debian) and here
# (node-pg-migrate and pg with npm ci, from the committed lockfile).
use strict;
use Cwd ();
use warnings;
use FindBin qw($RealBin);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rows = 200000;
for my $prog (qw(sqitch npm pgbench))
{
    system("command -v $prog >/dev/null 2>&1") == 0
      or BAIL_OUT("$prog is not installed (test/run.sh installs it)");
}

my $node = PostgreSQL::Test::Cluster->new('expand_contract');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
guarded_ddl.large_table_rows = 50000
# DDL only: the pgbench workload would write tens of MB of statements.
log_statement = ddl
# An autovacuum of the freshly loaded tables may be in the guard's way too
# (and be cancelled by it), which would make the blockers the audit log
# names depend on timing.
autovacuum = off
});
$node->start;

# A writable copy of examples/, with node-pg-migrate installed into it.
# Absolute: PostgreSQL 18's tempdir is relative to the test's directory.
my $work = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);
system('cp', '-a', "$RealBin/../../examples", $work) == 0 or die "copying examples/ failed";
my $examples = "$work/examples";
my $schema = "$RealBin/../../demo/schema.sql";

# Runs a command in a directory with extra environment; returns (success,
# stdout and stderr together), the output also going to the test log.
sub run_in
{
    my ($dir, $cmd, %env) = @_;
    local %ENV = (%ENV, %env);
    my $out = '';
    my $ok = IPC::Run::run($cmd, '<', \undef, '>&', \$out,
        init => sub { chdir $dir or die "chdir $dir: $!" });
    note(join(' ', @$cmd) . "\n$out");
    return ($ok, $out);
}

my ($npm_ok) = run_in("$examples/migrations/node-pg-migrate",
    [ 'npm', 'ci', '--no-audit', '--no-fund', '--loglevel=error' ]);
ok($npm_ok, 'npm ci installs node-pg-migrate and pg from the lockfile') or BAIL_OUT('npm ci failed');

# How each tool applies the next change, tries a rejected first attempt, and
# records what it applied.
my %tools = (
    sqitch => {
        dir => "$examples/migrations/sqitch",
        deploy => sub { [ 'sqitch', 'deploy', '--to', $_[1], "db:pg:$_[0]" ] },
        rejected => sub { [ 'sqitch', 'deploy', '--plan-file', "rejected/$_[1].plan", "db:pg:$_[0]" ] },
        recorded => q{SELECT count(*) FROM sqitch.changes WHERE change = '%s'},
        pre_flight => sub { [ 'bash', "$examples/explain_pending.sh", 'sqitch', "db:pg:$_[0]" ] },
    },
    'node-pg-migrate' => {
        dir => "$examples/migrations/node-pg-migrate",
        deploy => sub { [ 'npm', 'run', '--silent', 'migrate', '--', 'up', '1' ] },
        rejected => sub {
            [ 'npm', 'run', '--silent', 'migrate', '--', 'up', '--use-glob', '-m', "rejected/*_$_[1].js" ];
        },
        recorded => q{SELECT count(*) FROM pgmigrations WHERE name ~ '^\d+_%s$'},
        pre_flight => sub { [ 'bash', "$examples/explain_pending.sh", 'node-pg-migrate' ] },
    });

sub tool_env
{
    my ($db, %extra) = @_;
    return (PGHOST => $node->host, PGPORT => $node->port, PGDATABASE => $db,
        SQITCH_FULLNAME => 'CI', SQITCH_EMAIL => 'ci@example.invalid', %extra);
}

# Applies one change (how => 'deploy') or a rejected attempt (how =>
# 'rejected'); success also needs the change named in the tool's output.
sub apply
{
    my ($tool, $db, $how, $change, %env) = @_;
    my $t = $tools{$tool};
    my ($ok, $out) = run_in($t->{dir}, $t->{$how}->($db, $change), tool_env($db, %env));
    return ($ok && $out =~ /\b\Q$change\E\b/, $out);
}

sub recorded
{
    my ($tool, $db, $change) = @_;
    return $node->safe_psql($db, sprintf($tools{$tool}{recorded}, $change));
}

sub columns
{
    my ($db) = @_;
    return $node->safe_psql($db, q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
        WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped});
}

# A blocked migration: the tool fails and shows the SQLSTATE, the rule and the
# recipe, and does not record the change as applied.
sub blocked_ok
{
    my ($tool, $db, $how, $change, $rule, $recipe) = @_;
    my ($ok, $out) = apply($tool, $db, $how, $change);
    ok(!$ok, "$tool: $change fails");
    like($out, qr/GD001/, "$tool: $change: the tool shows SQLSTATE GD001");
    like($out, qr/guarded_ddl: rule \Q$rule\E: /, "$tool: $change: the message names rule $rule");
    like($out, $recipe, "$tool: $change: the hint with the recipe reaches the tool");
    is(recorded($tool, $db, $change), '0', "$tool: $change is not recorded as applied");
}

sub passes_ok
{
    my ($tool, $db, $change, %env) = @_;
    my ($ok, $out) = apply($tool, $db, 'deploy', $change, %env);
    ok($ok, "$tool: $change passes");
    is(recorded($tool, $db, $change), '1', "$tool: $change is recorded as applied");
    return $out;
}

# Step 3: the backfill, interrupted after a few batches and run again, with
# the application's workload (pgbench) running all along.
sub backfill_under_workload
{
    my ($tool, $db) = @_;
    my %env = (tool_env($db), BATCH_SIZE => 10000, PAUSE => '0.02');
    my $bench_out = '';
    my $bench = IPC::Run::start(
        [ 'pgbench', '-n', '-c', '4', '-T', '10', '-D', "users=$rows",
          '-f', "$examples/app_workload.sql", '-h', $node->host, '-p', $node->port, $db ],
        '>&', \$bench_out);
    my $started = $node->safe_psql($db, 'SELECT clock_timestamp()');

    my $first = '';
    {
        local %ENV = (%ENV, %env);
        my $h = IPC::Run::start([ 'bash', "$examples/backfill.sh" ], '>&', \$first,
            IPC::Run::timeout(60));
        $h->pump until $first =~ /batch 3:/;
        $h->kill_kill;
    }
    note($first);
    my ($ok, $out) = run_in($examples, [ 'bash', "$examples/backfill.sh" ], %env);
    ok($ok && $out =~ /^backfill: done, \d+ rows/m, "$tool: the rerun backfill completes");
    my ($left) = $out =~ /^backfill: (\d+) rows to fill/m;
    ok(defined $left && $left > 0 && $left < $rows, "$tool: the rerun carries on where the stopped one left off");
    is($node->safe_psql($db, q{SELECT count(*) FROM users
        WHERE full_name IS DISTINCT FROM name OR display_name IS DISTINCT FROM split_part(name, ' ', 1)}),
        '0', "$tool: every row is backfilled");
    ok($node->safe_psql($db, "SELECT count(*) FROM orders WHERE placed_at >= '$started'") > 0,
        "$tool: the workload wrote while the backfill ran");

    my $bench_ok = $bench->finish;
    note($bench_out);
    ok($bench_ok, "$tool: the workload exits successfully");
    like($bench_out, qr/number of failed transactions: 0 /, "$tool: the workload saw no failed transaction");
    unlike($bench_out, qr/ERROR|aborted/, "$tool: the workload saw no error");
}

# Starts applying users_full_name_not_null in the background and returns
# once its ALTER TABLE is retrying for the lock: (harness, \output).
sub start_set_not_null
{
    my ($tool, $db, %env) = @_;
    my $t = $tools{$tool};
    my $out = '';
    my $h;
    {
        local %ENV = (%ENV, tool_env($db, %env));
        $h = IPC::Run::start($t->{deploy}->($db, 'users_full_name_not_null'), '<', \undef, '>&', \$out,
            init => sub { chdir $t->{dir} or die "chdir $t->{dir}: $!" });
    }
    $node->poll_query_until($db, q{SELECT count(*) > 0 FROM pg_stat_activity
        WHERE query LIKE '%SET NOT NULL%' AND pid <> pg_backend_pid()
          AND wait_event IN ('Extension', 'relation', 'virtualxid')})
      or die "the migration never started waiting";
    return ($h, \$out);
}

# Step 6: users_full_name_not_null meets a long transaction on users.
sub behind_long_transaction
{
    my ($tool, $db) = @_;
    my $holder = $node->background_psql($db, on_error_stop => 0);
    $holder->query_safe("SET application_name = 'reporting-job'");
    my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
    $holder->query_safe('BEGIN');
    $holder->query_safe('SELECT count(*) FROM users');

    # Its budget runs out: 55P03 naming the blocker, while readers go on.
    my ($h, $out) = start_set_not_null($tool, $db, PGOPTIONS => '-c guarded_ddl.lock_budget=3s');
    my ($rc, $read) = $node->psql($db, "SET statement_timeout = '1s'; SELECT count(*) FROM users WHERE id <= 100");
    is($read, '100', "$tool: a reader of users is not stuck while the migration retries");
    is($node->safe_psql($db, q{SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted}),
        '0', "$tool: nothing waits in the lock queue of users");
    my $migrated = $h->finish;
    note($$out);
    ok(!$migrated, "$tool: the migration fails when its lock budget runs out");
    like($$out, qr/55P03/, "$tool: the tool shows SQLSTATE 55P03");
    like($$out, qr/could not obtain AccessExclusiveLock on relation "public\.users" after \d+ attempts/,
        "$tool: the message names relation, lock mode and attempts");
    like($$out, qr/Process $holder_pid \(role "[^"]+", application "reporting-job", state "idle in transaction"/,
        "$tool: the blocker is named");
    is(recorded($tool, $db, 'users_full_name_not_null'), '0', "$tool: the failed change is not recorded");

    # Run again; the blocker ends a second after the retries have begun: the
    # migration goes through.
    my $log_start = -s $node->logfile;
    ($h, $out) = start_set_not_null($tool, $db, PGOPTIONS => '-c log_min_messages=debug1');
    $holder->query_safe('SELECT pg_sleep(1)');
    $holder->query_safe('COMMIT');
    $migrated = $h->finish;
    note($$out);
    ok($migrated, "$tool: users_full_name_not_null passes once the blocker has ended");
    is(recorded($tool, $db, 'users_full_name_not_null'), '1', "$tool: users_full_name_not_null is recorded as applied");
    ok($node->log_contains(
            qr/guarded_ddl: AccessExclusiveLock on relation "public\.users" granted after ([2-9]|\d\d+) attempts/,
            $log_start),
        "$tool: the retries and the wait are logged");
    $holder->quit;
}

# Step 7: the audit log has what a reviewer asks after the contract step,
# and the README's review queries run against it.
sub audit_log_answers
{
    my ($tool, $db, $approval) = @_;
    is($node->safe_psql($db, 'SELECT guarded_ddl.flush()'), 't', "$tool: the audit log is flushed");
    is($node->safe_psql($db, q{
        SELECT string_agg(verdict || ':' || coalesce(approval_id::text, '-') || ':' || status, ',' ORDER BY id)
          FROM guarded_ddl.ddl_history WHERE 'drop_column' = ANY (rules)}),
        "blocked:-:aborted,approved:$approval:committed",
        "$tool: the blocked and the approved DROP COLUMN are logged, with the approval");
    is($node->safe_psql($db, q{
        SELECT count(*) FROM guarded_ddl.ddl_log
         WHERE verdict = 'blocked' AND 'dml_under_strong_lock' = ANY (rules) AND sqlstate = 'GD001'}),
        '1', "$tool: the all-in-one migration's blocked statement is logged with its rule");
    is($node->safe_psql($db, q{
        SELECT string_agg(DISTINCT l.lock_mode, ',')
          FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
         WHERE d.command = 'CREATE INDEX' AND d.statement LIKE '%CONCURRENTLY%'}),
        'ShareUpdateExclusiveLock', "$tool: CREATE INDEX CONCURRENTLY's lock is logged");
    is($node->safe_psql($db, q{
        SELECT string_agg(d.sqlstate || ':' || l.granted || ':' || (l.attempts > 1) || ':'
                          || (l.blockers @> '[{"application": "reporting-job"}]'), ',' ORDER BY d.id)
          FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
         WHERE d.verdict = 'failed' AND l.relation = 'public.users'}),
        '55P03:false:true:true', "$tool: the lock the guard gave up on is logged with its attempts and blocker");
    ok($node->safe_psql($db, q{
        SELECT max(l.wait_ms) > 500 AND max(l.attempts) > 1
          FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
         WHERE d.verdict = 'allowed' AND d.statement LIKE '%SET NOT NULL%' AND l.relation = 'public.users'}) eq 't',
        "$tool: the retried SET NOT NULL is logged with its wait");

    # The README's review queries, as written there.
    my $readme = slurp_file("$RealBin/../../README.md");
    my ($queries) = $readme =~ /Review queries:\s*```sql\n(.*?)```/s;
    ok(defined $queries, 'the README has review queries');
    my ($rc, $out, $err) = $node->psql($db, $queries =~ s/'public\.users'/'public.users'/r,
        extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
    is($rc, 0, "$tool: the README's review queries run") or diag($err);
    like($out, qr/\{drop_column\}\|\{public\.users\}\|ALTER TABLE "?users"?\s+DROP (COLUMN )?"?name"?/,
        "$tool: 'what was blocked' lists the DROP COLUMN with its rule") or diag($out);
    like($out, qr/^public\.users\|\d+(\.\d+)?\|\d+\|1\|\["reporting-job"\]$/m,
        "$tool: 'longest lock waits' names the reporting job in the way of users") or diag($out);
}

# A fresh database with the demo schema and $rows rows in users and orders.
sub create_db
{
    my ($db, $rows) = @_;
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    my ($ok) = run_in($examples, [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', "rows=$rows", '-f', $schema ],
        tool_env($db));
    return $ok;
}

# examples/explain_pending.sh, the pre-flight of explain-in-ci.md, on an
# empty CI database where every existing table counts as large: it explains
# every pending migration as one text and, since DROP COLUMN name is among
# them, applies none until an approval.
sub pre_flight
{
    my ($tool) = @_;
    (my $db = "ci_$tool") =~ s/-/_/g;
    create_db($db, 0) or die "creating $db failed";
    my $t = $tools{$tool};
    my %env = tool_env($db, PGOPTIONS => '-c guarded_ddl.large_table_size=0');
    my ($ok, $out) = run_in($t->{dir}, $t->{pre_flight}->($db), %env);
    ok(!$ok, "$tool: the pre-flight stops");
    like($out, qr/users_drop_name: guarded_ddl would block 1 statement\(s\)/, "$tool: at DROP COLUMN name");
    like($out,
        qr/users_full_name_validate +\| +\d+ +\| ALTER TABLE +\| public\.users +\| ShareUpdateExclusiveLock +\| scan +\| +\| allow/,
        "$tool: VALIDATE is explained as the safe step in its own transaction");
    like($out,
        qr/users_full_name_not_null +\| +\d+ +\| ALTER TABLE +\| public\.users +\| AccessExclusiveLock +\| scan +\| set_not_null_scan +\| unknown/,
        "$tool: SET NOT NULL of a column an earlier pending migration adds is unknown, not allowed");
    like($out,
        qr/orders_user_fk_validate +\| +\d+ +\| ALTER TABLE +\| public\.orders +\| ShareUpdateExclusiveLock +\| scan +\| +\| allow/,
        "$tool: VALIDATE of the foreign key an earlier pending migration adds is judged");
    is($node->safe_psql($db,
            q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'full_name'}),
        '0', "$tool: nothing is applied");
    $node->safe_psql($db, q{SELECT guarded_ddl.approve('drop_column', 'users', 'reviewed in the pull request')});
    ($ok, $out) = run_in($t->{dir}, $t->{pre_flight}->($db), %env);
    ok($ok && $out =~ /no pending migration left/, "$tool: after the approval the pre-flight applies the rest");
}

sub scenario
{
    my ($tool) = @_;
    (my $db = "app_$tool") =~ s/-/_/g;
    ok(create_db($db, $rows), "$tool: users and orders loaded with $rows rows each") or return;
    my $before = 'id,name,email,created_at';

    # 1. The all-in-one migration, and 5. the foreign key added the naive way.
    blocked_ok($tool, $db, 'rejected', 'all_in_one', 'dml_under_strong_lock',
        qr/1\. Commit the schema change first, in a transaction of its own\. 2\. Backfill outside it in batches/);
    is(columns($db), $before, "$tool: nothing of the all-in-one migration is applied");
    blocked_ok($tool, $db, 'rejected', 'orders_user_fk_direct', 'add_foreign_key',
        qr/1\. Add the foreign key NOT VALID: .* 2\. In a separate transaction: ALTER TABLE public\.orders VALIDATE CONSTRAINT orders_user_id_fkey/);
    is($node->safe_psql($db, q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'f'}),
        '0', "$tool: no foreign key was added");

    # 2. Expand, with the guard's lock grants in the server log.
    my $log_start = -s $node->logfile;
    passes_ok($tool, $db, $_, PGOPTIONS => '-c log_min_messages=debug1')
      for qw(users_name_expand users_full_name_index);
    is(columns($db), "$before,full_name,display_name", "$tool: full_name and display_name added");
    is($node->safe_psql($db, q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_full_name'::regclass}),
        't', "$tool: users_full_name built concurrently and valid");
    ok($node->log_contains(qr/guarded_ddl: AccessExclusiveLock on relation "public\.users" granted/, $log_start),
        "$tool: the ADD COLUMN lock grant is logged");
    ok($node->log_contains(qr/guarded_ddl: ShareUpdateExclusiveLock on relation "public\.users" granted/, $log_start),
        "$tool: the CREATE INDEX CONCURRENTLY lock grant is logged");

    # 3. Backfill.
    backfill_under_workload($tool, $db);

    # 4. Contract; 6. its SET NOT NULL meets a long transaction.
    passes_ok($tool, $db, $_) for qw(users_full_name_check users_full_name_validate);
    behind_long_transaction($tool, $db);
    is($node->safe_psql($db, q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'full_name'}),
        't', "$tool: full_name is NOT NULL");

    blocked_ok($tool, $db, 'deploy', 'users_drop_name', 'drop_column',
        qr/1\. Release an application version that no longer reads or writes name\./);
    my $approval = $node->safe_psql($db,
        q{SELECT guarded_ddl.approve('drop_column', 'users', 'users.name unused since release 42', '1 hour', 1)});
    passes_ok($tool, $db, 'users_drop_name');
    is(columns($db), 'id,email,created_at,full_name,display_name', "$tool: users.name is dropped");
    is($node->safe_psql($db, "SELECT status FROM guarded_ddl.approvals WHERE id = $approval"),
        'used', "$tool: the approval was used by the drop");
    audit_log_answers($tool, $db, $approval);

    # 5. The foreign key, the safe way.
    passes_ok($tool, $db, $_) for qw(orders_user_fk orders_user_fk_validate);
    is($node->safe_psql($db, q{SELECT convalidated FROM pg_constraint WHERE conname = 'orders_user_id_fkey'}),
        't', "$tool: the foreign key is validated");
}

for my $tool (sort keys %tools)
{
    scenario($tool);
    pre_flight($tool);
}

$node->stop;
done_testing();
