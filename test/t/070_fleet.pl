# A fleet's audit log in one central review database, with PostgreSQL's own
# logical replication (examples/fleet, run here as a DBA would run it): two
# servers publish guarded_ddl.ddl_log and lock_log, a central server with
# guarded_ddl of its own subscribes to both. Every row arrives, with the
# system_identifier of the server that wrote it, beside the central
# server's own rows; held_ms updates follow; a purge on a server stays
# there; all of it goes on after a publisher restarts. A physical standby
# of a publisher records nothing itself and gets the primary's rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $fleet_dir = "$ENV{TESTDIR}/../examples/fleet";
$fleet_dir = "$ENV{TESTDIR}/examples/fleet" unless -d $fleet_dir;
-d $fleet_dir or BAIL_OUT("examples/fleet not found from $ENV{TESTDIR}");

my %conf = (
    shared_preload_libraries => "'guarded_ddl'",
    autovacuum => 'off',
    # A restarted publisher is reconnected to soon.
    wal_retrieve_retry_interval => "'200ms'",
);
sub server
{
    my ($name, %opts) = @_;
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init(%opts);
    $node->append_conf('postgresql.conf',
        join("\n", map { "$_ = $conf{$_}" } sort keys %conf) . "\n");
    $node->start;
    $node->safe_psql('postgres', 'CREATE EXTENSION guarded_ddl');
    return $node;
}

my $central = server('central');
my %pub = (a => server('fleet_a', allows_streaming => 'logical'),
           b => server('fleet_b', allows_streaming => 'logical'));
my %sysid = map { $_ => $pub{$_}->safe_psql('postgres',
        'SELECT system_identifier FROM pg_control_system()') } keys %pub;
$sysid{central} = $central->safe_psql('postgres',
    'SELECT system_identifier FROM pg_control_system()');
is(scalar(keys %{{ map { $_ => 1 } values %sysid }}), 3, 'the three servers have distinct system identifiers');
is($central->safe_psql('postgres', 'SELECT guarded_ddl.system_identifier()'), $sysid{central},
    'guarded_ddl.system_identifier() is pg_control_system()\'s');

# DDL before the subscriptions exist: copied by the initial sync.
$pub{a}->safe_psql('postgres', 'CREATE TABLE before_a (id int PRIMARY KEY)');

# The setup, as examples/fleet/add_server.sh does it.
for my $name (sort keys %pub)
{
    my ($out, $err);
    my $ok = IPC::Run::run(['bash', "$fleet_dir/add_server.sh", $name,
            $pub{$name}->connstr('postgres'), $central->connstr('postgres')],
        '>', \$out, '2>', \$err);
    ok($ok, "add_server.sh $name") or diag("stdout: $out\nstderr: $err");
}
$central->wait_for_subscription_sync;

# On each publisher: DDL allowed, DDL blocked by a rule (GD001), DDL rolled
# back, and a statement whose lock hold is filled in by an UPDATE.
sub run_ddl
{
    my ($name, $round) = @_;
    my $node = $pub{$name};
    my $t = "${name}_t$round";
    $node->safe_psql('postgres', "CREATE TABLE $t (id int PRIMARY KEY)");
    $node->safe_psql('postgres', "ALTER TABLE $t ADD COLUMN note text");
    my ($ret, $out, $err) = $node->psql('postgres',
        "SET guarded_ddl.large_table_size = 0; ALTER TABLE $t ALTER COLUMN id TYPE bigint");
    like($err, qr/GD001|rule alter_column_type_rewrite/, "$name round $round: the type change is blocked");
    $node->safe_psql('postgres', "BEGIN; CREATE TABLE ${t}_rolled_back (x int); ROLLBACK");
    $node->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
}

# Waits until the central server has applied everything each publisher
# has committed (the writer's rows included: flush() waited for them).
sub catch_up
{
    $pub{$_}->wait_for_catchup("guarded_ddl_$_") for sort keys %pub;
}

my $rows = q{SELECT id, started_at, database, command, verdict, sqlstate, statement, rules,
                    xid, backend_pid, backend_seq
               FROM guarded_ddl.ddl_log WHERE system_identifier = %s ORDER BY id};
my $lock_rows = q{SELECT l.id, l.ddl_id, l.relation, l.lock_mode, l.granted, l.held_ms
                    FROM guarded_ddl.lock_log AS l WHERE l.system_identifier = %s ORDER BY l.id};

sub central_holds_everything
{
    my ($when) = @_;
    for my $name (sort keys %pub)
    {
        my $local = $pub{$name}->safe_psql('postgres', sprintf($rows, $sysid{$name}));
        is($central->safe_psql('postgres', sprintf($rows, $sysid{$name})), $local,
            "$when: the central log holds $name\'s statements, as $name has them");
        is($pub{$name}->safe_psql('postgres',
                'SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier <> '
                  . $sysid{$name}), '0',
            "$when: $name holds only its own rows");
        my $locks = $pub{$name}->safe_psql('postgres', sprintf($lock_rows, $sysid{$name}));
        is($central->safe_psql('postgres', sprintf($lock_rows, $sysid{$name})), $locks,
            "$when: the central log holds $name\'s lock rows, hold times included");
    }
}

run_ddl($_, 1) for sort keys %pub;
$central->safe_psql('postgres', 'CREATE TABLE central_t1 (id int)');
catch_up();
central_holds_everything('first round');

is($central->safe_psql('postgres', qq{
    SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier = $sysid{a}
       AND statement = 'CREATE TABLE before_a (id int PRIMARY KEY)'}), '1',
    'a row written before the subscription was copied to the central log');
for my $name (sort keys %pub)
{
    is($central->safe_psql('postgres', qq{
        SELECT verdict || ' ' || sqlstate || ' ' || coalesce(status, 'null')
          FROM guarded_ddl.ddl_history
         WHERE system_identifier = $sysid{$name} AND statement LIKE 'ALTER TABLE ${name}_t1 ALTER COLUMN id TYPE bigint%'}),
        'blocked GD001 aborted', "central: $name\'s blocked statement, GD001, aborted");
    # Another server's transaction ids mean nothing on the central server:
    # its status is that server's to tell.
    is($central->safe_psql('postgres', qq{
        SELECT verdict || ' ' || coalesce(status, 'null') FROM guarded_ddl.ddl_history
         WHERE system_identifier = $sysid{$name} AND statement LIKE 'CREATE TABLE ${name}_t1_rolled_back%'}),
        'allowed null', "central: $name\'s rolled-back statement is there, its status unknown here");
    is($pub{$name}->safe_psql('postgres', q{
        SELECT status FROM guarded_ddl.ddl_history WHERE statement LIKE 'CREATE TABLE } . $name
          . q{_t1_rolled_back%'}), 'aborted', "$name: its own ddl_history says the rollback aborted it");
}
like($central->safe_psql('postgres', qq{
    SELECT string_agg(command || ' ' || status, ',') FROM guarded_ddl.ddl_history
     WHERE system_identifier = $sysid{central} AND statement LIKE 'CREATE TABLE central_t1%'}),
    qr/^CREATE TABLE committed$/, "the central server's own DDL is logged beside them, with its identifier");
is($central->safe_psql('postgres', qq{
    SELECT count(*) FROM guarded_ddl.lock_log AS l JOIN guarded_ddl.ddl_log AS d
        ON d.system_identifier = l.system_identifier AND d.id = l.ddl_id
     WHERE l.system_identifier = $sysid{a} AND l.held_ms IS NOT NULL}) > 0 ? 'yes' : 'no', 'yes',
    'hold times updated on a publisher arrive as updates');

# lock_timeline: this server's locks, or another server's by identifier.
my $own_svg = $central->safe_psql('postgres', "SELECT guarded_ddl.lock_timeline(now() - interval '1 hour')");
my $a_svg = $central->safe_psql('postgres',
    "SELECT guarded_ddl.lock_timeline(now() - interval '1 hour', now(), $sysid{a})");
ok($a_svg =~ /a_t1/ && $a_svg !~ /b_t1/ && $own_svg !~ /a_t1/,
    'lock_timeline draws one server\'s locks: the central\'s own by default, a\'s when asked');

# A purge on a publisher stays there: the central log keeps the history.
my $b_rows = $central->safe_psql('postgres',
    "SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier = $sysid{b}");
ok($pub{b}->safe_psql('postgres', "SELECT guarded_ddl.purge('0')") > 0, 'b purges its log');
$pub{b}->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
catch_up();
ok($central->safe_psql('postgres',
        "SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier = $sysid{b}") >= $b_rows,
    'the purge on b did not delete b\'s rows on the central server');
is($central->safe_psql('postgres', "SELECT count(*) > 0 FROM pg_stat_subscription WHERE subname = 'guarded_ddl_b' AND pid IS NOT NULL"),
    't', 'the subscription to b is still running');

# One publisher restarts; both go on, and so does the central server.
$pub{a}->restart;
run_ddl($_, 2) for sort keys %pub;
$central->safe_psql('postgres', 'CREATE TABLE central_t2 (id int)');
catch_up();
for my $name (sort keys %pub)
{
    is($central->safe_psql('postgres', qq{
        SELECT string_agg(verdict, ',' ORDER BY id) FROM guarded_ddl.ddl_log
         WHERE system_identifier = $sysid{$name} AND statement LIKE '%${name}_t2%'}),
        'allowed,allowed,blocked,allowed', "after a's restart: $name\'s new statements arrive");
}
my $a_after = $pub{a}->safe_psql('postgres', sprintf($rows, $sysid{a}));
is($central->safe_psql('postgres', sprintf($rows, $sysid{a})), $a_after,
    'after the restart: the central log holds all of a\'s statements');
is($central->safe_psql('postgres', qq{
    SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier = $sysid{central}
       AND statement LIKE 'CREATE TABLE central_t_%'}), '2',
    'the central server\'s own writer goes on beside the subscriptions');
is($central->safe_psql('postgres', 'SELECT failed FROM guarded_ddl.audit_stats()'), '0',
    'no central record failed to insert');

# The central server's purge() is its own rows'; purge(interval, bigint)
# removes another server's.
$central->safe_psql('postgres', "SELECT guarded_ddl.purge('0')");
is($central->safe_psql('postgres', qq{
    SELECT count(*) FILTER (WHERE system_identifier = $sysid{central} AND statement LIKE 'CREATE TABLE central_t_%'),
           count(*) FILTER (WHERE system_identifier = $sysid{a}) > 0
      FROM guarded_ddl.ddl_log}), '0|t', 'the central purge() removed its own rows only');
$central->safe_psql('postgres', "SELECT guarded_ddl.purge('0', $sysid{a})");
is($central->safe_psql('postgres', qq{
    SELECT count(*) FROM guarded_ddl.ddl_log WHERE system_identifier = $sysid{a}}), '0',
    'purge(interval, system_identifier) removes that server\'s rows');
is($central->safe_psql('postgres', qq{
    SELECT count(*) FROM guarded_ddl.lock_log WHERE system_identifier = $sysid{a}}), '0',
    '... and their lock rows');

# The review queries run on the central log.
my ($ret, $review, $review_err) = $central->psql('postgres', slurp_file("$fleet_dir/review.sql"),
    on_error_stop => 1);
ok($ret == 0 && $review =~ /b_t1 ALTER COLUMN id TYPE bigint/ && $review =~ /\bb\b/,
    'review.sql runs on the central database and names the servers') or diag($review_err);

# A standby of b: the primary's rows arrive by physical replication, and the
# standby records nothing of its own (it cannot write; no writer starts).
$pub{b}->backup('fleet_b_backup');
my $standby = PostgreSQL::Test::Cluster->new('fleet_b_standby');
$standby->init_from_backup($pub{b}, 'fleet_b_backup', has_streaming => 1);
$standby->start;
$pub{b}->safe_psql('postgres', 'CREATE TABLE b_before_standby_check (id int)');
$pub{b}->safe_psql('postgres', 'SELECT guarded_ddl.flush()');
$pub{b}->wait_for_catchup('fleet_b_standby', 'replay');
is($standby->safe_psql('postgres', q{
    SELECT count(*) FROM guarded_ddl.ddl_log WHERE statement = 'CREATE TABLE b_before_standby_check (id int)'}),
    '1', 'the standby has the primary\'s rows');
($ret, undef, my $standby_err) = $standby->psql('postgres',
    "SET guarded_ddl.mode = warn; CREATE TABLE on_standby (id int)");
like($standby_err, qr/read-only transaction/, 'DDL fails on the standby, as PostgreSQL says');
sleep 1;
is($standby->safe_psql('postgres', q{
    SELECT queued || ' ' || pending || ' ' || failed || ' '
           || (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'guarded_ddl audit writer')
      FROM guarded_ddl.audit_stats()}), '0 0 0 0',
    'the standby queued nothing and runs no writer');
unlike(slurp_file($standby->logfile), qr/guarded_ddl: (could not|audit record)/,
    'the standby\'s log has no audit writer complaint');

$standby->stop;
$_->stop for values %pub;
$central->stop;
done_testing();
