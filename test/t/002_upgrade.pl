# Every released version of guarded_ddl upgrades to the newest with
# ALTER EXTENSION ... UPDATE and ends with exactly the objects of a fresh
# install of the newest version.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'guarded_ddl'");
$node->start;

my $newest = $node->safe_psql('postgres',
    "SELECT default_version FROM pg_available_extensions WHERE name = 'guarded_ddl'");
my @versions = split /\n/, $node->safe_psql('postgres',
    "SELECT version FROM pg_available_extension_versions WHERE name = 'guarded_ddl' ORDER BY version");
ok(scalar(@versions) >= 1, 'at least one version is installed');

my $members = q{
SELECT pg_describe_object(classid, objid, objsubid)
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'guarded_ddl')
 ORDER BY 1};

$node->safe_psql('postgres', 'CREATE EXTENSION guarded_ddl');
my $fresh = $node->safe_psql('postgres', $members);
$node->safe_psql('postgres', 'DROP EXTENSION guarded_ddl');

for my $v (@versions)
{
    $node->safe_psql('postgres', "CREATE EXTENSION guarded_ddl VERSION '$v'");
    my ($ret, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION guarded_ddl UPDATE');
    is($ret, 0, "update from $v succeeds");
    is($node->safe_psql('postgres',
        "SELECT extversion FROM pg_extension WHERE extname = 'guarded_ddl'"), $newest,
        "update from $v reaches $newest");
    is($node->safe_psql('postgres', $members), $fresh,
        "update from $v has the objects of a fresh $newest install");
    $node->safe_psql('postgres', 'DROP EXTENSION guarded_ddl');
    is($node->safe_psql('postgres',
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'guarded_ddl'"), '0',
        "DROP EXTENSION after the update from $v removes the schema");
}

$node->stop;
done_testing();
