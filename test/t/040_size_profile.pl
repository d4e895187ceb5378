# Issue 12: production's table sizes in CI. Two servers at guarded_ddl's
# default thresholds: "production" holds the data, "ci" the same schema,
# empty. The profile is exported on production and imported on CI with
# examples/size_profile.sh, exactly as a CI job would; then the same
# migration statements run on both, and CI must give production's verdicts
# and messages (but for the "in the imported size profile" marker), and
# explain() production's figures. Without the profile CI blocks none of them.
# Bad input through the script (a non-superuser, a profile over 100 MB)
# changes nothing.
use strict;
use Cwd ();
use warnings;
use FindBin qw($RealBin);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script = "$RealBin/../../examples/size_profile.sh";
my $marker = ' in the imported size profile';

my %nodes;
for my $name (qw(production ci))
{
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init;
    # Sizes must not move between the export and the statements.
    $node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
});
    $node->start;
    $nodes{$name} = $node;
}
my ($prod, $ci) = @nodes{qw(production ci)};

my $schema = q{
CREATE EXTENSION guarded_ddl;
CREATE SCHEMA app;
CREATE TABLE app.users (id int PRIMARY KEY, name text, email text);
CREATE TABLE app.orders (id int, user_id int);
CREATE TABLE app.settings (key text PRIMARY KEY, value text);
CREATE TABLE app.blobs (id int, body text);
CREATE TABLE app.events (id int, at timestamptz) PARTITION BY RANGE (id);
CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (60000);
CREATE TABLE app.events_2 PARTITION OF app.events FOR VALUES FROM (60000) TO (120000);
CREATE MATERIALIZED VIEW app.setting_keys AS SELECT key FROM app.settings;
};
$_->safe_psql('postgres', $schema) for ($prod, $ci);

# Production's data: users large by rows and size, orders by rows only,
# blobs by size only (TOAST), events by the sum of its partitions only.
$prod->safe_psql('postgres', q{
INSERT INTO app.users SELECT i, 'user ' || i, 'user' || i || '@example.com'
  FROM generate_series(1, 200000) AS i;
INSERT INTO app.orders SELECT i, i % 200000 + 1 FROM generate_series(1, 150000) AS i;
INSERT INTO app.settings SELECT 'key' || i, 'value' FROM generate_series(1, 100) AS i;
INSERT INTO app.blobs SELECT i, (SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 300) AS j)
  FROM generate_series(1, 4000) AS i;
INSERT INTO app.events SELECT i, now() FROM generate_series(0, 119999) AS i;
REFRESH MATERIALIZED VIEW app.setting_keys;
-- A table production has and CI does not have yet: a later migration of
-- the pull request creates it there.
CREATE TABLE app.audit_trail (id int, note text);
INSERT INTO app.audit_trail SELECT i, 'note' FROM generate_series(1, 150000) AS i;
VACUUM ANALYZE;
});

# Runs a command; returns (success, stdout, stderr), logged.
sub run
{
    my ($cmd, %env) = @_;
    local %ENV = (%ENV, %env);
    my ($out, $err) = ('', '');
    my $ok = IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err);
    note(join(' ', @$cmd) . "\n$out$err");
    return ($ok, $out, $err);
}

# Absolute: PostgreSQL 18's tempdir is relative to the test's directory.
my $work = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);
my $profile_file = "$work/profile.json";

# 1. Export on production, through the script, as a monitoring role.
$prod->safe_psql('postgres', q{
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
GRANT USAGE ON SCHEMA guarded_ddl TO monitor;
});
my ($ok, $profile, $err) =
  run([ 'bash', $script, 'export', $prod->connstr('postgres') . ' user=monitor' ]);
ok($ok, 'export runs on production as a monitoring role') or diag($err);
open(my $fh, '>', $profile_file) or die "$profile_file: $!";
print $fh $profile;
close($fh);
is($prod->safe_psql('postgres', qq{
SELECT string_agg(e->>'name', ' ' ORDER BY e->>'name')
  FROM jsonb_array_elements('$profile'::jsonb->'tables') AS e}),
    'app.audit_trail app.blobs app.events app.events_1 app.events_2 app.orders app.setting_keys app.settings app.users',
    'the export lists every table, partition and materialized view');
is($prod->safe_psql('postgres', qq{
SELECT e->>'rows' FROM jsonb_array_elements('$profile'::jsonb->'tables') AS e
 WHERE e->>'name' = 'app.events'}), '120000', 'a partitioned table has the rows of its partitions');

# Before the import CI judges by its own, empty tables.
my $explain = q{
SELECT relation, rule, verdict, relation_size FROM guarded_ddl.explain($$%s$$) ORDER BY statement_no};

my @statements = (
    'ALTER TABLE app.users ADD COLUMN token uuid DEFAULT gen_random_uuid()',
    'ALTER TABLE app.users ADD COLUMN nickname text',
    'CREATE INDEX users_email ON app.users (email)',
    'ALTER TABLE app.users ALTER COLUMN name SET NOT NULL',
    'ALTER TABLE app.users RENAME COLUMN name TO full_name',
    'TRUNCATE app.users',
    'ALTER TABLE app.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES app.users (id)',
    'ALTER TABLE app.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES app.users (id) NOT VALID',
    'ALTER TABLE app.blobs ALTER COLUMN id TYPE bigint',
    'CREATE INDEX ON app.events (at)',
    'CREATE INDEX ON app.events_1 (at)',
    'ALTER TABLE app.settings ALTER COLUMN value TYPE varchar(20)',
    'DROP TABLE app.settings CASCADE',
    'REFRESH MATERIALIZED VIEW app.setting_keys',
    'ALTER TABLE app.audit_trail ADD CHECK (id > 0)');

# Each statement in a transaction rolled back, so neither server changes:
# the error text (SQLSTATE, message, DETAIL, HINT) or "ok".
sub outcome
{
    my ($node, $sql) = @_;
    my ($rc, $out, $stderr) = $node->psql('postgres', "BEGIN;\n$sql;\nROLLBACK;",
        extra_params => [ '-v', 'VERBOSITY=verbose' ]);
    $stderr =~ s/^psql:[^\n]*?ERROR:/ERROR:/mg;
    $stderr =~ s/^LOCATION:.*\n?//mg;
    return $stderr eq '' ? 'ok' : $stderr;
}

my %before = map { $_ => outcome($ci, $_) } @statements;
is(scalar(grep { $before{$_} =~ /GD001/ } @statements), 0,
    'without the profile CI blocks none of the statements');

# 2. Import on CI, through the script, as a superuser.
($ok, my $matched, $err) = run([ 'bash', $script, 'import', $ci->connstr('postgres'), $profile_file ]);
ok($ok, 'import runs on CI') or diag($err);
is($matched, "8\n", 'import returns the number of tables CI has (all but audit_trail)');
like($err, qr/size profile imported \(tables: 9, found here: 8, unknown here: 1\)/,
    'the unknown table is counted in a NOTICE');
like(slurp_file($ci->logfile), qr/LOG:  guarded_ddl: size profile imported by \S+ .*9 tables, 8 matched, 1 unknown/,
    'the import is in the server log');

# The table production has and CI creates after the import, in its own
# migration: matched by name from then on.
$ci->safe_psql('postgres', 'CREATE TABLE app.audit_trail (id int, note text)');

# 3. The same statements on both: CI's verdicts and messages are production's.
my $blocked = 0;
for my $sql (@statements)
{
    my $on_prod = outcome($prod, $sql);
    my $on_ci = outcome($ci, $sql);
    $blocked++ if $on_prod =~ /GD001/;
    if ($on_prod =~ /GD001/)
    {
        like($on_ci, qr/\Q$marker\E/, "CI says the size came from the profile: $sql");
    }
    (my $ci_unmarked = $on_ci) =~ s/\Q$marker\E//g;
    is($ci_unmarked, $on_prod, "CI gives production's outcome: $sql");
}
cmp_ok($blocked, '>=', 9, 'production blocks most of the statements');

my $all = join(";\n", @statements);
is($ci->safe_psql('postgres', sprintf($explain, $all)), $prod->safe_psql('postgres', sprintf($explain, $all)),
    "explain() on CI gives production's verdicts and sizes");

# 4. The whole flow as a CI job runs it: a migration file applied with the
# guard enforcing stops at the statement production would stop.
my $migration = "$work/migration.sql";
open($fh, '>', $migration) or die "$migration: $!";
print $fh "ALTER TABLE app.users ADD COLUMN nickname text;\n"
  . "CREATE INDEX users_email ON app.users (email);\n";
close($fh);
($ok, undef, $err) = run([ 'bash', $script, 'apply', $ci->connstr('postgres'), $migration ]);
ok(!$ok, 'applying the migration on CI fails');
like($err, qr/ERROR:  GD001: guarded_ddl: rule create_index: CREATE INDEX would build an index on large table "app.users" \(\d+ MB\Q$marker\E\)/,
    'with the GD001 block production would give');
is($ci->safe_psql('postgres', q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.users'::regclass AND attname = 'nickname'}),
    '0', 'and nothing of it is applied');

# 5. Bad input through the script changes nothing.
my $entries = q{SELECT count(*) || ' ' || sum(bytes) FROM guarded_ddl.size_profile_entry};
my $kept = $ci->safe_psql('postgres', $entries);
$ci->safe_psql('postgres', q{CREATE ROLE ci_user LOGIN; GRANT USAGE ON SCHEMA guarded_ddl TO ci_user;});
($ok, undef, $err) = run([ 'bash', $script, 'import', $ci->connstr('postgres') . ' user=ci_user', $profile_file ]);
ok(!$ok, 'a non-superuser import is refused');
like($err, qr/permission denied for function import_size_profile/, 'with permission denied');

my $huge = "$work/huge.json";
open($fh, '>', $huge) or die "$huge: $!";
print $fh '{"version": 1, "tables": [], "padding": "' . ('x' x (101 * 1024 * 1024)) . '"}';
close($fh);
($ok, undef, $err) = run([ 'bash', $script, 'import', $ci->connstr('postgres'), $huge ]);
ok(!$ok, 'a profile over 100 MB is refused');
like($err, qr/profile is too large \(101 MB\)/, 'with a clear error');
unlink $huge;

open($fh, '>', "$work/bad.json") or die "bad.json: $!";
print $fh '{"version": 1, "tables": [{"name": "app.users", "bytes": "a lot"}]}';
close($fh);
($ok, undef, $err) = run([ 'bash', $script, 'import', $ci->connstr('postgres'), "$work/bad.json" ]);
ok(!$ok, 'a malformed profile is refused');
like($err, qr/table entry 1 has no "bytes" number/, 'naming the entry');
is($ci->safe_psql('postgres', $entries), $kept, 'the profile is unchanged after each refusal');

# 6. Cleared, CI is back to its own sizes.
$ci->safe_psql('postgres', 'SELECT guarded_ddl.clear_size_profile()');
is(outcome($ci, $statements[0]), 'ok', 'after clear_size_profile() CI judges by its own sizes again');

done_testing();
