# CALL guarded_ddl.apply(): the steps that cannot run in a transaction block
# (CREATE INDEX CONCURRENTLY and its kin) run at top level in a background
# worker connected as the caller. Writers keep writing during the build; the
# caller sees the worker's NOTICE and error; cancelling the caller stops the
# worker and the rerun replaces the invalid index it left; a unique build
# failing on duplicates succeeds once they are fixed; the worker has the
# caller's rights, not more.
use strict;
use Cwd ();
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GuardedDDLApply;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('apply_concurrently');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
guarded_ddl.lock_timeout = '100ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE TABLE big (id int PRIMARY KEY, v int, u int, pad text);
INSERT INTO big SELECT g, g % 1000, g, repeat('x', 100) FROM generate_series(1, 200000) g;
CREATE FUNCTION noisy(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF $1 = 1 THEN RAISE NOTICE 'noisy() indexed row one'; END IF;
    RETURN $1;
END $$;
SELECT guarded_ddl.set_table_policy('big', large => true);
VACUUM ANALYZE big;
});

# Absolute: PostgreSQL 18's tempdir is relative to the test's directory.
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);
my $script = "$tmp/write.sql";
open(my $fh, '>', $script) or die;
print $fh "\\set id random(1, 200000)\nUPDATE big SET v = v + 1 WHERE id = :id;\n";
close $fh;

# Runs sql in psql while two pgbench clients update big, and returns the
# writes' worst latency in ms, their count and psql's stderr.
sub under_writes
{
    my ($sql, $tag) = @_;
    my $prefix = "$tmp/$tag";
    my @pgbench = ('pgbench', '-n', '-c', '2', '-T', '600', '-f', $script, '--log',
        "--log-prefix=$prefix", '-h', $node->host, '-p', $node->port, 'postgres');
    my ($in, $out, $err) = ('', '', '');
    my $bench = IPC::Run::start(\@pgbench, \$in, \$out, \$err);
    sleep 1;
    my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
    sleep 1;
    # TERM, not INT: a shell starting the suite in the background (no job
    # control) makes its children ignore SIGINT.
    $bench->signal('TERM');
    $bench->finish;
    my ($max, $n) = (0, 0);
    for my $log (glob("$prefix.*"))
    {
        open(my $l, '<', $log) or die;
        while (<$l>)
        {
            my @f = split;
            $n++;
            $max = $f[2] if $f[2] > $max;
        }
        close $l;
    }
    return ($max / 1000.0, $n, $ret, $stderr);
}

# ---- CREATE INDEX under writes: CONCURRENTLY, the writes never wait long ----
my ($worst, $writes, $ret, $err) = under_writes(
    q{CALL guarded_ddl.apply('CREATE INDEX big_noisy ON big (noisy(id))')}, 'apply');
is($ret, 0, 'create_index: apply succeeds');
like($err, qr/step 1 of 1: CREATE INDEX CONCURRENTLY big_noisy ON big \(noisy\(id\)\)/,
    'create_index: the recipe runs CONCURRENTLY');
like($err, qr/NOTICE:  noisy\(\) indexed row one/, 'the caller sees the worker\'s NOTICE');
is($node->safe_psql('postgres',
    q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_noisy'::regclass}),
    't', 'create_index: the index is valid');
my ($plain_worst, $plain_writes) = under_writes(
    q{SET guarded_ddl.mode = off; CREATE INDEX big_plain ON big (noisy(id), v)}, 'plain');
diag(sprintf('worst write latency: %.1f ms under apply (%d writes), %.1f ms under a plain '
        . 'CREATE INDEX (%d writes)', $worst, $writes, $plain_worst, $plain_writes));
ok($writes > 100, 'the writers ran during apply');
cmp_ok($worst, '<', 125,
    'create_index: no write waited longer than guarded_ddl.lock_timeout (100 ms) + 25 ms');
cmp_ok($worst * 2, '<', $plain_worst,
    'create_index: the worst write waited less than half the plain CREATE INDEX\'s worst');
$node->safe_psql('postgres', 'SET guarded_ddl.mode = off; DROP INDEX big_plain');

# ---- Cancel while the build waits for an old snapshot ----
my $old = $node->background_psql('postgres');
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT 1');
like(cancel_apply_while_waiting($node, 'CREATE INDEX big_v ON big (v)', q{wait_event = 'virtualxid'}),
    qr/canceling statement due to user request/, 'cancel: the caller is cancelled');
is($node->safe_psql('postgres',
    q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl apply worker'}),
    '0', 'cancel: no worker is left');
is($node->safe_psql('postgres',
    q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass}),
    'f', 'cancel: the build left an invalid index');
$old->query_safe('COMMIT');
$old->quit;
($ret, my $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('CREATE INDEX big_v ON big (v)')});
is($ret, 0, 'cancel: the rerun succeeds');
like($err, qr/step 1 of 2: DROP INDEX CONCURRENTLY public\.big_v.*step 2 of 2: CREATE INDEX CONCURRENTLY big_v/s,
    'cancel: the rerun drops the invalid index, then builds it');
is($node->safe_psql('postgres',
    q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass}),
    't', 'cancel: the index is valid');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('CREATE INDEX big_v ON big (v)')});
like($err, qr/step 1 of 1: done already \(index public\.big_v exists and is valid\)/,
    'a third run finds the index done');

# ---- A unique constraint whose build fails on duplicates ----
$node->safe_psql('postgres', 'SET guarded_ddl.mode = off; UPDATE big SET u = 1 WHERE id = 2');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE big ADD CONSTRAINT big_u_key UNIQUE (u)')});
isnt($ret, 0, 'unique: apply fails on duplicates');
like($err, qr/ERROR:  could not create unique index "big_u_key"\nDETAIL:  Key \(u\)=\(1\) is duplicated\.\nHINT:  A failed CONCURRENTLY build leaves the invalid index public\.big_u_key behind/,
    'unique: PostgreSQL\'s duplicate error, with a HINT naming the invalid index');
$node->safe_psql('postgres', 'SET guarded_ddl.mode = off; UPDATE big SET u = 2 WHERE id = 2');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('ALTER TABLE big ADD CONSTRAINT big_u_key UNIQUE (u)')});
is($ret, 0, 'unique: the rerun after the fix succeeds');
is($node->safe_psql('postgres', q{
    SELECT c.contype::text || ':' || i.indisvalid FROM pg_constraint c
      JOIN pg_index i ON i.indexrelid = c.conindid WHERE c.conname = 'big_u_key'}),
    'u:true', 'unique: the constraint exists on its valid index');

# ---- The worker runs as the caller ----
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT USAGE ON SCHEMA guarded_ddl TO alice, bob;
CREATE TABLE al (id int PRIMARY KEY, v int);
INSERT INTO al SELECT g, g FROM generate_series(1, 1000) g;
ALTER TABLE al OWNER TO alice;
SELECT guarded_ddl.set_table_policy('al', large => true);
});
# PostgreSQL 15: the table's owner needs CREATE on the schema for an index.
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('CREATE INDEX al_v ON al (v)')}, extra_params => ['-U', 'alice']);
like($err, qr/ERROR:  permission denied for schema public\n(?:.*\n)*CONTEXT:  SQL statement "[^\n]*"\ntop-level step of guarded_ddl\.apply/,
    'role: alice without CREATE on the schema gets PostgreSQL\'s permission error from the worker');
$node->safe_psql('postgres', 'GRANT CREATE ON SCHEMA public TO alice');
($ret, $out, $err) = $node->psql('postgres',
    q{CALL guarded_ddl.apply('CREATE INDEX al_v ON al (v)')}, extra_params => ['-U', 'alice']);
is($ret, 0, 'role: with CREATE granted, alice\'s apply succeeds');
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
is($node->safe_psql('postgres', q{
    SELECT session_role || '/' || executing_role FROM guarded_ddl.ddl_log
     WHERE statement = 'CREATE INDEX CONCURRENTLY al_v ON al (v)' AND sqlstate IS NULL}),
    'alice/alice', 'role: the worker\'s statement is audited as alice\'s');
($ret, $out, $err) = $node->psql('postgres',
    q{SET ROLE bob; CALL guarded_ddl.apply('CREATE INDEX CONCURRENTLY al_id ON al (id)')});
like($err, qr/ERROR:  must be owner of table al/,
    'role: a superuser session under SET ROLE bob gets bob\'s permission error from the worker');
like($err, qr/run by a background worker/, 'role: the error comes from the worker');
$node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
is($node->safe_psql('postgres', q{
    SELECT executing_role || ':' || sqlstate || ':' || (session_role = current_user)
      FROM guarded_ddl.ddl_log WHERE statement = 'CREATE INDEX CONCURRENTLY al_id ON al (id)'}),
    'bob:42501:true', 'role: the worker ran as bob in the superuser\'s session, as the caller did');

$node->stop;
done_testing();
