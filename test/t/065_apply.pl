# CALL guarded_ddl.apply() interrupted with pg_cancel_backend while a step
# waits for a lock another session holds, then run again: it continues where
# it stopped and reaches the state the blocked statement would have produced.
# (The in-transaction recipes; the top-level ones are in 066_apply_concurrently.pl.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('apply');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT generate_series(1, 200000);
CREATE TABLE t (id int PRIMARY KEY, p_id int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200000) g;
CREATE DOMAIN pos AS int;
CREATE TABLE d (id int PRIMARY KEY, v pos);
INSERT INTO d SELECT g, g FROM generate_series(1, 200000) g;
SELECT guarded_ddl.set_table_policy(r, large => true)
  FROM unnest(ARRAY['p', 't', 'd']::regclass[]) r;
});

# A session holding a lock until told to commit.
sub hold
{
    my ($sql) = @_;
    my $bg = $node->background_psql('postgres', on_error_stop => 0);
    $bg->query_until(qr/held/, "BEGIN; $sql\n\\echo held\n");
    return $bg;
}

# Starts apply in a session of its own, with a lock budget long enough that
# only the cancel ends the wait; returns the session and its pid.
sub start_apply
{
    my ($text) = @_;
    my $bg = $node->background_psql('postgres', on_error_stop => 0);
    my $pid = $bg->query_safe('SELECT pg_backend_pid()');
    $bg->query_safe("SET guarded_ddl.lock_budget = '60s'");
    $bg->query_safe("SET guarded_ddl.lock_timeout = '5s'");
    $bg->{stdin} .= "CALL guarded_ddl.apply(\$\$$text\$\$);\n\\echo apply_done\n";
    $bg->{run}->pump_nb;
    return ($bg, $pid);
}

sub wait_for
{
    my ($sql, $what) = @_;
    $node->poll_query_until('postgres', $sql) or die "timed out waiting for $what";
}

# Cancels the apply session's wait, and returns what it printed.
sub cancel_apply
{
    my ($bg, $pid) = @_;
    $node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
    $bg->{stdout} = '';
    $bg->query_until(qr/apply_done/, '');
    my $err = $bg->{stderr};
    $bg->quit;
    return $err;
}

# ---- ALTER DOMAIN ADD CHECK: cancelled while VALIDATE (step 2) waits ----
# A writer's open transaction on d (ROW EXCLUSIVE) lets the NOT VALID step
# through and holds VALIDATE, which locks d in SHARE mode.
my $holder = hold('UPDATE d SET v = v WHERE id = 1;');
my ($apply, $pid) = start_apply('ALTER DOMAIN pos ADD CONSTRAINT pos_positive CHECK (VALUE > 0)');
wait_for(q{SELECT count(*) = 1 FROM pg_constraint WHERE conname = 'pos_positive' AND NOT convalidated},
    'the NOT VALID step');
wait_for(qq{SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid},
    'VALIDATE to wait for its lock');
my $err = cancel_apply($apply, $pid);
like($err, qr/canceling statement due to user request/, 'domain: the cancel stops apply in step 2');
is($node->safe_psql('postgres', q{SELECT convalidated FROM pg_constraint WHERE conname = 'pos_positive'}),
    'f', 'domain: step 1 stays committed, the constraint not validated');
$holder->query_safe('COMMIT');
$holder->quit;
my ($ret, $out);
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER DOMAIN pos ADD CONSTRAINT pos_positive CHECK (VALUE > 0)')});
is($ret, 0, 'domain: the rerun succeeds');
like($err, qr/step 1 of 2: done already \(constraint "pos_positive" exists\)/,
    'domain: the rerun recognises step 1 as done');
is($node->safe_psql('postgres', q{SELECT convalidated FROM pg_constraint WHERE conname = 'pos_positive'}),
    't', 'domain: the constraint is valid, as the blocked statement would have left it');

# ---- ADD FOREIGN KEY: cancelled while the NOT VALID step (1) waits ----
# SHARE on p conflicts with the SHARE ROW EXCLUSIVE the ADD takes on it.
$holder = hold('LOCK TABLE p IN SHARE MODE;');
($apply, $pid) = start_apply('ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p');
usleep(300_000);
wait_for(qq{SELECT state = 'active' FROM pg_stat_activity WHERE pid = $pid}, 'apply to run');
$err = cancel_apply($apply, $pid);
like($err, qr/canceling statement due to user request/, 'foreign key: the cancel stops apply in step 1');
like($err, qr/step 1 of 2: ALTER TABLE public\.t ADD CONSTRAINT t_p_id_fkey/,
    'foreign key: the unnamed constraint is named as PostgreSQL would');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conname = 't_p_id_fkey'}),
    '0', 'foreign key: nothing of step 1 is left');
$holder->query_safe('COMMIT');
$holder->quit;
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p')});
is($ret, 0, 'foreign key: the rerun succeeds');
is($node->safe_psql('postgres', q{SELECT convalidated FROM pg_constraint WHERE conname = 't_p_id_fkey'}),
    't', 'foreign key: the constraint is valid');

# ---- The audit: each step's row carries its recipe ----
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
is($node->safe_psql('postgres', q{
    SELECT string_agg(verdict || ':' || COALESCE(sqlstate, ''), ',' ORDER BY id)
      FROM guarded_ddl.ddl_log WHERE recipe_statement LIKE 'ALTER DOMAIN%'}),
    'allowed:,failed:57014,allowed:',
    'audit: the domain recipe\'s steps, the cancelled one failed with 57014');

$node->stop;
done_testing();
