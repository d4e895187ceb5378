# Every released version of guarded_ddl upgrades to the newest with
# ALTER EXTENSION ... UPDATE and ends with exactly the objects of a fresh
# install of the newest version: the same members, and the same columns,
# constraints, indexes, triggers, view and function definitions, comments
# and privileges. Audit rows written before the update (by the newest
# library into the old version's tables) are kept, and get this server's
# system_identifier (1.1); the writer goes on writing after the update.
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

# The definitions of everything in the schema, one line each.
my $shape = q{
WITH s AS (SELECT 'guarded_ddl'::regnamespace AS nsp)
SELECT line FROM (
SELECT format('column %s.%s #%s %s%s identity=%s default=%s comment=%s', c.relname, a.attname,
              a.attnum, format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, a.attidentity,
              pg_get_expr(ad.adbin, ad.adrelid), col_description(c.oid, a.attnum)) AS line
  FROM pg_class c JOIN s ON c.relnamespace = s.nsp
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relkind IN ('r', 'v', 'p')
UNION ALL
SELECT format('relation %s kind=%s replident=%s acl=%s comment=%s', c.relname, c.relkind,
              c.relreplident, c.relacl, obj_description(c.oid, 'pg_class'))
  FROM pg_class c JOIN s ON c.relnamespace = s.nsp
UNION ALL
SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
  FROM pg_constraint JOIN s ON connamespace = s.nsp
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN s ON c.relnamespace = s.nsp
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN s ON c.relnamespace = s.nsp
 WHERE NOT t.tgisinternal
UNION ALL
SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
  FROM pg_class c JOIN s ON c.relnamespace = s.nsp WHERE c.relkind = 'v'
UNION ALL
SELECT format('function %s acl=%s comment=%s %s', p.oid::regprocedure, p.proacl,
              obj_description(p.oid, 'pg_proc'), pg_get_functiondef(p.oid))
  FROM pg_proc p JOIN s ON p.pronamespace = s.nsp
) AS lines ORDER BY line};

$node->safe_psql('postgres', 'CREATE EXTENSION guarded_ddl');
my $fresh = $node->safe_psql('postgres', $members);
my $fresh_shape = $node->safe_psql('postgres', $shape);
$node->safe_psql('postgres', 'DROP EXTENSION guarded_ddl');
my $sysid = $node->safe_psql('postgres',
    'SELECT system_identifier FROM pg_control_system()');

for my $v (@versions)
{
    $node->safe_psql('postgres', "CREATE EXTENSION guarded_ddl VERSION '$v'");
    # Rows the writer wrote into this version's tables, locks among them.
    $node->safe_psql('postgres', q{
        CREATE TABLE upgrade_t (a int);
        ALTER TABLE upgrade_t ADD COLUMN b int;
        DROP TABLE upgrade_t;
        SELECT guarded_ddl.flush();});
    my $rows_before = $node->safe_psql('postgres', q{
        SELECT (SELECT count(*) || ' ' || max(id) FROM guarded_ddl.ddl_log) || ' '
            || (SELECT count(*) || ' ' || max(id) FROM guarded_ddl.lock_log)});
    my ($statements_before, $last_statement, $locks_before, $last_lock) = split / /, $rows_before;
    ok($statements_before >= 3 && $locks_before >= 1,
        "the writer wrote into version ${v}'s tables ($statements_before statements, $locks_before locks)");
    my ($ret, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION guarded_ddl UPDATE');
    is($ret, 0, "update from $v succeeds");
    is($node->safe_psql('postgres',
        "SELECT extversion FROM pg_extension WHERE extname = 'guarded_ddl'"), $newest,
        "update from $v reaches $newest");
    is($node->safe_psql('postgres', $members), $fresh,
        "update from $v has the objects of a fresh $newest install");
    is($node->safe_psql('postgres', $shape), $fresh_shape,
        "update from $v has the definitions of a fresh $newest install");
    # The update itself is logged after them: the rows up to the last id.
    is($node->safe_psql('postgres', qq{
        SELECT (SELECT count(*) || ' ' || max(id) FROM guarded_ddl.ddl_log
                 WHERE system_identifier = $sysid AND id <= $last_statement) || ' '
            || (SELECT count(*) || ' ' || max(id) FROM guarded_ddl.lock_log
                 WHERE system_identifier = $sysid AND id <= $last_lock)}), $rows_before,
        "update from $v kept the rows, with this server's system_identifier");
    is($node->safe_psql('postgres', qq{
        SELECT (SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier <> $sysid)
             + (SELECT count(*) FROM guarded_ddl.lock_log WHERE system_identifier <> $sysid)}), '0',
        "after the update from $v no row has another server's system_identifier");
    # The writer writes into the updated tables: a statement after the
    # update, with its lock rows and their hold time.
    $node->safe_psql('postgres', q{
        CREATE TABLE upgrade_after (a int);
        ALTER TABLE upgrade_after ADD COLUMN b int;
        SELECT guarded_ddl.flush();});
    is($node->safe_psql('postgres', qq{
        SELECT count(*) FROM guarded_ddl.ddl_log d JOIN guarded_ddl.lock_log l
            ON l.system_identifier = d.system_identifier AND l.ddl_id = d.id
         WHERE d.statement LIKE 'ALTER TABLE upgrade_after%' AND d.system_identifier = $sysid
           AND l.held_ms IS NOT NULL}), '1',
        "after the update from $v the writer writes a statement, its lock and its hold time");
    $node->safe_psql('postgres', 'DROP TABLE upgrade_after');
    $node->safe_psql('postgres', 'DROP EXTENSION guarded_ddl');
    is($node->safe_psql('postgres',
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'guarded_ddl'"), '0',
        "DROP EXTENSION after the update from $v removes the schema");
}

$node->stop;
done_testing();
