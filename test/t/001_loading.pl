# guarded_ddl refuses to load outside shared_preload_libraries, and its hook
# chains with the other ProcessUtility hooks in either order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $hint = qr/HINT:  Add guarded_ddl to shared_preload_libraries in postgresql.conf and restart the server\./;

# Not preloaded: a clear error with the fix, never a crash.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
my ($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION guarded_ddl');
isnt($ret, 0, 'CREATE EXTENSION fails without preload');
like($err, qr/ERROR:  guarded_ddl must be loaded via shared_preload_libraries/, 'the error says why');
like($err, $hint, 'the hint says what to add to postgresql.conf');
($ret, $out, $err) = $plain->psql('postgres', "LOAD 'guarded_ddl'");
like($err, qr/must be loaded via shared_preload_libraries/, 'LOAD is refused the same way');
is($plain->safe_psql('postgres', "SELECT count(*) FROM pg_namespace WHERE nspname = 'guarded_ddl'"),
    '0', 'the failed CREATE EXTENSION left nothing behind');
is($plain->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
$plain->stop;

# Preloaded with pg_stat_statements and pgaudit, in both orders. A major
# built from source has pgaudit only when its Debian source package could be
# fetched too (test/lib.sh gd_build_pg); without it the chain is shorter and
# the pgaudit checks say they were skipped.
chomp(my $pkglibdir = `pg_config --pkglibdir`);
my $pgaudit = -f "$pkglibdir/pgaudit.so" ? 'pgaudit,' : '';
diag("pgaudit is not installed for this server: its checks are skipped") unless $pgaudit;
my %orders = (guarded_last => "pg_stat_statements,${pgaudit}guarded_ddl",
    guarded_first => "guarded_ddl,${pgaudit}pg_stat_statements");
for my $order (sort keys %orders)
{
    my $libs = $orders{$order};
    my $node = PostgreSQL::Test::Cluster->new($order);
    $node->init;
    $node->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$libs'
pgaudit.log = 'ddl'
pg_stat_statements.track_utility = on
});
    $node->start;
    $node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements; CREATE EXTENSION guarded_ddl');

    my $log_offset = -s $node->logfile;
    my ($r, $o, $e) = $node->psql('postgres',
        "SET client_min_messages = debug1; CREATE TABLE chain_probe_table (id int)");
    is($r, 0, "[$libs] DDL runs");
    like($e, qr/guarded_ddl: inspecting CREATE TABLE/, "[$libs] guarded_ddl's hook saw it");
    SKIP:
    {
        skip "pgaudit is not installed", 1 unless $pgaudit;
        ok($node->log_contains(qr/AUDIT: SESSION,\d+,\d+,DDL,CREATE TABLE,.*chain_probe_table/,
                $log_offset),
            "[$libs] pgaudit logged it");
    }
    is($node->safe_psql('postgres',
        "SELECT calls FROM pg_stat_statements WHERE query LIKE 'CREATE TABLE chain_probe_table%'"),
        '1', "[$libs] pg_stat_statements counted it");
    $node->stop;
}

done_testing();
