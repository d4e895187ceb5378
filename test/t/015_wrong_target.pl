# Wrong targets: every statement form the guard analyses, aimed at every
# wrong kind of object, as an unprivileged role, as the owner and as a
# superuser, on two servers built the same way: "vanilla" (no guarded_ddl)
# and "guarded" (guarded_ddl preloaded, every table large, mode enforce).
#
# The guard analyses a statement before PostgreSQL has validated anything.
# Where PostgreSQL refuses a statement (missing object, wrong relkind, not the
# owner, missing or system column, ...), guarded_ddl must step aside and let
# PostgreSQL raise its own error: same SQLSTATE, same message as vanilla. It
# must never crash, never say "cache lookup failed" (XX000), and never block
# with GD001 a statement PostgreSQL would refuse anyway. Where vanilla
# succeeds, guarded may block with GD001 (that is the rules' job; such cases
# are listed in a diag line, not failed). guarded_ddl.explain() of the same
# statement, as the same role, must not crash or raise XX000, and for a
# statement PostgreSQL refuses it must report no rule and no block.
#
# Each statement runs inside BEGIN ... ROLLBACK, so state does not change;
# the forms that cannot run in a transaction block run outside one and a
# superuser puts back what they may have changed (restore_sql).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

# explain() is an analysis, not an execution: by its contract (src/pg/explain.cpp,
# "Relations that do not exist are PostgreSQL's to report: no action"), a
# statement PostgreSQL would refuse yields a row without a rule or a block,
# and no error. Set to 1 to also accept an error with vanilla's own SQLSTATE.
my $EXPLAIN_ALLOWS_VANILLA_ERROR = 0;

my $conf = q{
autovacuum = off
restart_after_crash = on
log_line_prefix = '%m [%p] %e '
log_min_messages = warning
};

my $vanilla = PostgreSQL::Test::Cluster->new('vanilla');
$vanilla->init;
$vanilla->append_conf('postgresql.conf', $conf);
$vanilla->start;

my $guarded = PostgreSQL::Test::Cluster->new('guarded');
$guarded->init;
$guarded->append_conf('postgresql.conf', $conf . q{
shared_preload_libraries = 'guarded_ddl'
guarded_ddl.large_table_size = 0
guarded_ddl.large_table_rows = 0
});
$guarded->start;
$guarded->safe_psql('postgres', 'CREATE EXTENSION guarded_ddl');
$guarded->safe_psql('postgres', q{
GRANT USAGE ON SCHEMA guarded_ddl TO PUBLIC;
GRANT EXECUTE ON FUNCTION guarded_ddl.explain(text, boolean) TO PUBLIC;
});

# The same objects on both servers: every kind of relation, owned by
# owner_role, a table and a domain of another role, and an intruder who
# owns nothing and may only look.
my $schema = <<'SQL';
SET guarded_ddl.mode = off;
CREATE ROLE owner_role LOGIN;
CREATE ROLE other_role LOGIN;
CREATE ROLE intruder LOGIN;
CREATE SCHEMA app AUTHORIZATION owner_role;
CREATE SCHEMA s2 AUTHORIZATION owner_role;
GRANT USAGE ON SCHEMA app, s2 TO intruder, other_role;
GRANT CREATE ON SCHEMA app TO other_role;
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER s FOREIGN DATA WRAPPER dummy;
GRANT USAGE ON FOREIGN SERVER s TO owner_role;
CREATE FUNCTION app.trgfn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;

SET ROLE other_role;
CREATE TABLE app.others_tbl (a int PRIMARY KEY, b text);
INSERT INTO app.others_tbl SELECT g, 'a' FROM generate_series(1, 1000) g;
CREATE DOMAIN app.dom_other AS int;
RESET ROLE;

SET ROLE owner_role;
CREATE DOMAIN app.dom AS int CONSTRAINT dom_chk CHECK (VALUE > -1000000);
CREATE TABLE app.tbl (a int, b text, d app.dom, CONSTRAINT tbl_chk CHECK (a > 0));
INSERT INTO app.tbl SELECT g, 'x' || g, g FROM generate_series(1, 1000) g;
CREATE INDEX tbl_a_idx ON app.tbl (a);
CREATE UNIQUE INDEX tbl_a_uidx ON app.tbl (a);
CREATE TABLE app.tbl2 (a int PRIMARY KEY, b text);
INSERT INTO app.tbl2 SELECT g, 'a' FROM generate_series(1, 1000) g;
CREATE TABLE app.big (a int, b text);
INSERT INTO app.big SELECT g, 'b' FROM generate_series(1, 5000) g;
CREATE TABLE app.ptab (a int, b text) PARTITION BY LIST (b);
CREATE TABLE app.ptab_x PARTITION OF app.ptab FOR VALUES IN ('x');
CREATE TABLE app.ptab_def PARTITION OF app.ptab DEFAULT;
INSERT INTO app.ptab VALUES (1, 'x'), (2, 'zz');
CREATE INDEX ptab_b_idx ON app.ptab (b);
CREATE TABLE app.rtab (a int, b text) PARTITION BY RANGE (a);
CREATE TABLE app.rtab_1 PARTITION OF app.rtab FOR VALUES FROM (-100) TO (0);
INSERT INTO app.rtab VALUES (-1, 'r');
CREATE VIEW app.vw AS SELECT a, b FROM app.tbl;
CREATE MATERIALIZED VIEW app.mv AS SELECT a, b FROM app.tbl;
CREATE MATERIALIZED VIEW app.mvu AS SELECT a, b FROM app.tbl;
CREATE UNIQUE INDEX mvu_a_idx ON app.mvu (a);
CREATE SEQUENCE app.seq;
CREATE FOREIGN TABLE app.ft (a int, b text) SERVER s;
CREATE TYPE app.ctype AS (a int, b text);
RESET ROLE;
ANALYZE;
SQL
$_->safe_psql('postgres', $schema) for ($vanilla, $guarded);

# What a superuser puts back after a statement that ran outside a
# transaction block (the guard is switched off for it on the guarded node).
my $restore_sql = <<'SQL';
SET guarded_ddl.mode = off;
DROP INDEX IF EXISTS app.cic_idx;
CREATE INDEX IF NOT EXISTS tbl_a_idx ON app.tbl (a);
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = 'app.rtab_1'::regclass) THEN
    ALTER TABLE app.rtab ATTACH PARTITION app.rtab_1 FOR VALUES FROM (-100) TO (0);
  END IF;
END$$;
RESET guarded_ddl.mode;
SQL

# ---------------------------------------------------------------------------
# The case matrix.

# Relations of every kind, and names that resolve to nothing.
my @relations = qw(
  app.tbl app.tbl2 app.ptab app.ptab_x app.ptab_def app.rtab app.rtab_1
  app.vw app.mv app.mvu app.seq app.ft app.tbl_a_idx app.ptab_b_idx app.ctype
  pg_catalog.pg_class pg_catalog.pg_attribute app.others_tbl
  app.nosuch nosuch_schema.nosuch);
# Where a column is named: the existing one on every relation, and a missing
# one and system columns on a few.
my @column_relations = qw(app.tbl app.ptab app.ptab_x app.mv app.vw app.ft pg_catalog.pg_class);
my @wrong_columns = qw(zz ctid xmin);
# Types for ALTER DOMAIN.
my @types = qw(app.dom app.dom_other app.ctype app.tbl app.vw pg_catalog.int4
  pg_catalog.pg_class app.nosuch);

# [template, nontransactional]: %R a relation, %C a column, %T a type.
my @templates = (
    # ATTACH / DETACH
    [q{ALTER TABLE %R ATTACH PARTITION app.tbl2 FOR VALUES IN ('a')}],
    [q{ALTER TABLE %R ATTACH PARTITION app.tbl2 FOR VALUES FROM (0) TO (2000)}],
    [q{ALTER TABLE %R ATTACH PARTITION app.tbl2 DEFAULT}],
    [q{ALTER TABLE app.ptab ATTACH PARTITION %R FOR VALUES IN ('a')}],
    [q{ALTER TABLE app.ptab ATTACH PARTITION %R DEFAULT}],
    [q{ALTER TABLE app.rtab ATTACH PARTITION %R FOR VALUES FROM (0) TO (2000)}],
    [q{ALTER TABLE %R DETACH PARTITION app.ptab_x}],
    [q{ALTER TABLE app.ptab DETACH PARTITION %R}],
    [q{ALTER TABLE app.rtab DETACH PARTITION %R CONCURRENTLY}, 1],
    [q{ALTER TABLE %R DETACH PARTITION app.rtab_1 CONCURRENTLY}, 1],
    [q{ALTER INDEX %R ATTACH PARTITION app.tbl_a_idx}],
    # ALTER DOMAIN
    [q{ALTER DOMAIN %T ADD CONSTRAINT dc CHECK (VALUE > 0)}],
    [q{ALTER DOMAIN %T ADD CONSTRAINT dc CHECK (VALUE > 0) NOT VALID}],
    [q{ALTER DOMAIN %T SET NOT NULL}],
    [q{ALTER DOMAIN %T VALIDATE CONSTRAINT dom_chk}],
    # ALTER COLUMN TYPE, SET NOT NULL
    [q{ALTER TABLE %R ALTER COLUMN %C TYPE bigint}],
    [q{ALTER TABLE %R ALTER COLUMN %C TYPE text}],
    [q{ALTER TABLE %R ALTER COLUMN %C SET NOT NULL}],
    [q{ALTER FOREIGN TABLE %R ALTER COLUMN %C TYPE bigint}],
    # ADD COLUMN
    [q{ALTER TABLE %R ADD COLUMN c int NOT NULL}],
    [q{ALTER TABLE %R ADD COLUMN c int DEFAULT 7}],
    [q{ALTER TABLE %R ADD COLUMN c float8 DEFAULT random()}],
    [q{ALTER TABLE %R ADD COLUMN c serial}],
    [q{ALTER TABLE %R ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED}],
    [q{ALTER TABLE %R ADD COLUMN %C int}],
    # ADD / VALIDATE CONSTRAINT
    [q{ALTER TABLE %R ADD CONSTRAINT chk2 CHECK (%C IS NOT NULL)}],
    [q{ALTER TABLE %R ADD CONSTRAINT chk3 CHECK (a > 0) NOT VALID}],
    [q{ALTER TABLE %R ADD CONSTRAINT fk FOREIGN KEY (%C) REFERENCES app.tbl2 (a)}],
    [q{ALTER TABLE app.tbl2 ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES %R (%C)}],
    [q{ALTER TABLE %R ADD CONSTRAINT u UNIQUE (%C)}],
    [q{ALTER TABLE %R ADD PRIMARY KEY (%C)}],
    [q{ALTER TABLE %R ADD CONSTRAINT u2 UNIQUE USING INDEX tbl_a_uidx}],
    [q{ALTER TABLE %R ADD CONSTRAINT pk PRIMARY KEY USING INDEX tbl_a_uidx}],
    [q{ALTER TABLE %R ADD CONSTRAINT ex EXCLUDE USING btree (a WITH =)}],
    [q{ALTER TABLE %R VALIDATE CONSTRAINT tbl_chk}],
    # CREATE INDEX, REINDEX, CLUSTER, VACUUM, REFRESH
    [q{CREATE INDEX ON %R (%C)}],
    [q{CREATE INDEX ON ONLY %R (a)}],
    [q{CREATE INDEX CONCURRENTLY cic_idx ON %R (a)}, 1],
    [q{REINDEX TABLE %R}],
    [q{REINDEX INDEX %R}],
    [q{REINDEX TABLE CONCURRENTLY %R}, 1],
    [q{REINDEX INDEX CONCURRENTLY %R}, 1],
    [q{CLUSTER %R USING tbl_a_idx}],
    [q{CLUSTER %R}],
    [q{VACUUM FULL %R}, 1],
    [q{VACUUM %R}, 1],
    [q{REFRESH MATERIALIZED VIEW %R}],
    [q{REFRESH MATERIALIZED VIEW CONCURRENTLY %R}],
    # TRUNCATE, DROP
    [q{TRUNCATE %R}],
    [q{TRUNCATE app.tbl2, %R CASCADE}],
    [q{DROP TABLE %R}],
    [q{DROP TABLE IF EXISTS %R}],
    [q{DROP INDEX %R}],
    [q{DROP INDEX CONCURRENTLY %R}, 1],
    [q{DROP VIEW %R}],
    [q{DROP MATERIALIZED VIEW %R}],
    [q{DROP SEQUENCE %R}],
    [q{DROP FOREIGN TABLE %R}],
    [q{ALTER TABLE %R DROP COLUMN %C}],
    # RENAME, SET SCHEMA
    [q{ALTER TABLE %R RENAME COLUMN %C TO c2}],
    [q{ALTER TABLE %R RENAME TO z}],
    [q{ALTER VIEW %R RENAME TO z}],
    [q{ALTER MATERIALIZED VIEW %R RENAME TO z}],
    [q{ALTER INDEX %R RENAME TO z}],
    [q{ALTER SEQUENCE %R RENAME TO z}],
    [q{ALTER FOREIGN TABLE %R RENAME TO z}],
    [q{ALTER TABLE %R SET SCHEMA s2}],
    [q{ALTER VIEW %R SET SCHEMA s2}],
    [q{ALTER MATERIALIZED VIEW %R SET SCHEMA s2}],
    [q{ALTER SEQUENCE %R SET SCHEMA s2}],
    # other rewrites and locks the guard looks at
    [q{ALTER TABLE %R SET UNLOGGED}],
    [q{ALTER TABLE %R SET ACCESS METHOD heap}],
    [q{LOCK TABLE %R IN ACCESS EXCLUSIVE MODE}],
    [q{CREATE TRIGGER trg BEFORE INSERT ON %R FOR EACH ROW EXECUTE FUNCTION app.trgfn()}],
    [q{CREATE POLICY p ON %R USING (true)}],
    [q{CREATE RULE r AS ON INSERT TO %R DO INSTEAD NOTHING}],
);
my @roles = qw(intruder owner_role superuser);

my @cases;    # {id, template, sql, role, nontx}
for my $t (@templates)
{
    my ($template, $nontx) = @$t;
    my @sqls;
    if ($template =~ /%T/)
    {
        push @sqls, map { (my $s = $template) =~ s/%T/$_/g; $s } @types;
    }
    else
    {
        for my $rel (@relations)
        {
            my @cols = ('a');
            push @cols, @wrong_columns
              if $template =~ /%C/ && grep { $_ eq $rel } @column_relations;
            for my $col (@cols)
            {
                (my $s = $template) =~ s/%R/$rel/g;
                $s =~ s/%C/$col/g;
                push @sqls, $s;
            }
        }
    }
    for my $role (@roles)
    {
        # A superuser only where being one changes the answer: catalogs.
        push @cases,
          {
            id => scalar(@cases),
            template => $template,
            sql => $_,
            role => $role,
            nontx => $nontx ? 1 : 0
          } for grep { $role ne 'superuser' || /pg_catalog\./ } @sqls;
    }
}
note scalar(@cases) . ' cases';

# ---------------------------------------------------------------------------
# Running the cases: one psql script per run, markers and errors on stderr
# (\warn), so they stay in order. A crash ends psql; the run resumes after the
# case that crashed, once the server has restarted.

my $header = q{\set VERBOSITY verbose
\set QUIET on
SET client_min_messages = warning;
SET statement_timeout = '60s';
SET search_path = app, public;
};

sub as_role
{
    my ($role) = @_;
    return $role eq 'superuser' ? '' : "SET SESSION AUTHORIZATION $role;\n";
}

# The script lines of one item: an execution ('x') or an explain() ('e').
sub item_script
{
    my ($kind, $c) = @_;
    my $id = $c->{id};
    my $s = "\\warn \@\@B $kind $id\n" . as_role($c->{role});
    if ($kind eq 'x')
    {
        $s .= "BEGIN;\n" unless $c->{nontx};
        $s .= "\\warn \@\@S $id\n$c->{sql};\n\\warn \@\@E $id\n";
        $s .= "ROLLBACK;\n" unless $c->{nontx};
        $s .= "RESET SESSION AUTHORIZATION;\n";
        $s .= $restore_sql if $c->{nontx};
    }
    else
    {
        # leak: a relation_size shown for a relation the caller has no
        # privilege on and does not own.
        $s .= <<"SQL";
\\unset x_n
\\unset x_blk
\\unset x_rules
\\unset x_leak
SELECT count(*) AS n,
       count(*) FILTER (WHERE e.verdict = 'block') AS blk,
       count(*) FILTER (WHERE e.rule IS NOT NULL) AS rules,
       count(*) FILTER (WHERE e.relation_size IS NOT NULL AND c.oid IS NOT NULL
                          AND NOT pg_has_role(c.relowner, 'USAGE')
                          AND NOT has_table_privilege(c.oid,
                                'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')) AS leak
  FROM guarded_ddl.explain(\$gdq\$$c->{sql}\$gdq\$) e
  LEFT JOIN pg_class c ON c.oid = to_regclass(e.relation)
\\gset x_
\\warn \@\@X $id :x_n :x_blk :x_rules :x_leak
RESET SESSION AUTHORIZATION;
SQL
    }
    return $s;
}

# Runs the items [kind, case] on a node; returns {id => outcome} where an
# outcome is {state => OK|SKIP|ERROR|CRASH, sqlstate, message, explain
# counts}.
sub run_items
{
    my ($node, $kind, @items) = @_;
    my %outcome;
    my $start = 0;
    my $retries = 0;
    while ($start < @items)
    {
        my $script = $header . $restore_sql;
        $script .= item_script($kind, $items[$_]) for $start .. $#items;
        $script .= "\\warn \@\@DONE\n";
        my ($out, $err) = ('', '');
        # From a file, not a pipe: psql stops reading when the connection is
        # lost, and a broken pipe would cut its stderr short.
        my $file = "$PostgreSQL::Test::Utils::tmp_check/cases_" . $node->name . "_$kind.sql";
        open(my $fh, '>', $file) or die "$file: $!";
        print $fh $script;
        close($fh);
        IPC::Run::run([ 'psql', '-X', '-d', $node->connstr('postgres'), '-f', $file ],
            '<', \undef, '>', \$out, '2>', \$err);
        my ($current, $in_stmt, %o);
        my $done = 0;
        for my $line (split /\n/, $err)
        {
            if ($line =~ /^\@\@B \w (\d+)$/)
            {
                $current = $1;
                $outcome{$current} = { state => 'OK' };
                $in_stmt = $kind eq 'e';
            }
            elsif ($line =~ /^\@\@S (\d+)$/) { $in_stmt = 1; }
            elsif ($line =~ /^\@\@E (\d+)$/) { $in_stmt = 0; $outcome{$1}{done} = 1; }
            elsif ($line =~ /^\@\@X (\d+) (\S+) (\S+) (\S+) (\S+)$/)
            {
                my $o = $outcome{$1};
                $o->{done} = 1;
                @$o{qw(n blk rules leak)} = ($2, $3, $4, $5) if $o->{state} eq 'OK';
                $in_stmt = 0;
            }
            elsif ($line =~ /^\@\@DONE$/) { $done = 1; }
            elsif (defined $current && $in_stmt && $outcome{$current}{state} ne 'ERROR')
            {
                if ($line =~ /(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): (.*)$/)
                {
                    @{ $outcome{$current} }{qw(state sqlstate message)} = ('ERROR', $1, $2);
                }
                elsif ($line =~ /WARNING:  [0-9A-Z]{5}: (skipping .*)$/)
                {
                    @{ $outcome{$current} }{qw(state message)} = ('SKIP', $1);
                }
                elsif ($line =~ /server closed the connection|connection to server was lost/)
                {
                    @{ $outcome{$current} }{qw(state sqlstate message)} = ('CRASH', 'CRASH', $line);
                }
            }
        }
        last if $done;
        # psql died before the end: the item it was running brought the
        # backend down (or the server went away). Resume after it.
        if (!defined $current)
        {
            # Connected while the server was still going down or restarting
            # after the last crash: try again.
            die "psql ended before running anything:\n$err" if ++$retries > 100;
            sleep(1);
            next;
        }
        $retries = 0;
        my ($pos) = grep { $items[$_]{id} == $current } $start .. $#items;
        my $o = $outcome{$current};
        if (!$o->{done})
        {
            $o->{state} = 'CRASH';
            $o->{sqlstate} = 'CRASH';
            $o->{message} //= 'psql lost the connection';
        }
        my @tail = (split /\n/, $err)[-3 .. -1];
        diag $node->name . ": case $current ($items[$pos]{role}: $items[$pos]{sql}) ended the session: "
          . join(' / ', grep { defined } @tail);
        $node->poll_query_until('postgres', 'SELECT true')
          or die $node->name . ' did not come back';
        $start = $pos + 1;
    }
    return \%outcome;
}

my $vx = run_items($vanilla, 'x', @cases);
my $gx = run_items($guarded, 'x', @cases);
my $ge = run_items($guarded, 'e', @cases);

# ---------------------------------------------------------------------------
# Judging: one assertion per (template, role), listing its bad cases.

sub show
{
    my ($o) = @_;
    return 'missing' unless $o;
    return $o->{state} if $o->{state} eq 'OK' || $o->{state} eq 'SKIP';
    return $o->{sqlstate};
}

sub normalized { my ($m) = @_; $m //= ''; $m =~ s/\d+/N/g; return $m; }

# Vanilla refused the statement before doing anything: a precondition.
# Class 23 errors come from the data the scan or rewrite met, which is what
# the rules are about: there GD001 is allowed too.
sub refused_upfront
{
    my ($v) = @_;
    return $v->{state} eq 'SKIP' || ($v->{state} eq 'ERROR' && $v->{sqlstate} !~ /^23/);
}

# A mismatch that is GD001 where vanilla refused for a reason other than the
# named preconditions: existence (42P01, 3F000, 42704 "does not exist"),
# relkind (42809), ownership or privilege (42501, and VACUUM's "skipping"),
# columns (42703, 42701, 42P10, system columns). Crashes, XX000 and any other
# wrong SQLSTATE are always counted with the named ones.
sub beyond_named_preconditions
{
    my ($v, $g) = @_;
    return 0 unless $g->{state} eq 'ERROR' && $g->{sqlstate} eq 'GD001' && $v->{state} eq 'ERROR';
    return 0 if $v->{sqlstate} =~ /^(42P01|3F000|42809|42501|42703|42701|42P10)$/;
    return 0 if $v->{sqlstate} eq '42704' && $v->{message} =~ /does not exist/;
    return 0 if $v->{message} =~ /system column/;
    return 1;
}

my (@mismatch, @explain_bad, @leaks, @blocked_ok, @data_blocked);
my (%group_bad, %explain_group_bad, @group_order, %seen_group);
for my $c (@cases)
{
    my $group = "$c->{role}: $c->{template}";
    push @group_order, $group unless $seen_group{$group}++;
    my ($v, $g, $e) = ($vx->{ $c->{id} }, $gx->{ $c->{id} }, $ge->{ $c->{id} });
    my $row = sprintf("%-10s | %-7s | %-7s | %s", $c->{role}, show($v), show($g), $c->{sql});

    my $good;
    if ($v->{state} eq 'OK')
    {
        $good = $g->{state} eq 'OK' || ($g->{state} eq 'ERROR' && $g->{sqlstate} eq 'GD001');
        push @blocked_ok, $row if $good && $g->{state} eq 'ERROR';
    }
    elsif ($v->{state} eq 'SKIP')
    {
        $good = $g->{state} eq 'SKIP' || $g->{state} eq 'OK';
    }
    elsif ($v->{sqlstate} =~ /^23/ && $g->{state} eq 'ERROR' && $g->{sqlstate} eq 'GD001')
    {
        $good = 1;
        push @data_blocked, $row;
    }
    else
    {
        $good = $g->{state} eq 'ERROR' && $g->{sqlstate} eq $v->{sqlstate}
          && normalized($g->{message}) eq normalized($v->{message});
        $row .= "\n    vanilla: $v->{message}\n    guarded: " . ($g->{message} // '(no error)')
          unless $good;
    }
    unless ($good)
    {
        push @mismatch, $row;
        push @{ $group_bad{$group}{ beyond_named_preconditions($v, $g) ? 'other' : 'named' } }, $row;
    }

    # explain(): never a crash or XX000; nothing said about a statement
    # PostgreSQL refuses. A refusal that comes from running the statement
    # inside this test's BEGIN ... ROLLBACK (25001, REINDEX of a partitioned
    # relation) is not one explain() of the statement alone should echo.
    my $ebad;
    if ($e->{state} eq 'CRASH' || ($e->{state} eq 'ERROR' && $e->{sqlstate} eq 'XX000'))
    {
        $ebad = "crash or XX000: $e->{message}";
    }
    elsif (refused_upfront($v) && $v->{sqlstate} ne '25001')
    {
        if ($e->{state} eq 'ERROR')
        {
            $ebad = "error $e->{sqlstate}: $e->{message}"
              unless $EXPLAIN_ALLOWS_VANILLA_ERROR && $v->{state} eq 'ERROR'
              && $e->{sqlstate} eq $v->{sqlstate};
        }
        elsif ($e->{blk} ne '0' || $e->{rules} ne '0')
        {
            $ebad = "$e->{rules} rule row(s), $e->{blk} block(s)";
        }
    }
    if ($ebad)
    {
        my $erow = sprintf("%-10s | %-7s | %s | %s", $c->{role}, show($v), $c->{sql}, $ebad);
        push @explain_bad, $erow;
        push @{ $explain_group_bad{$group} }, $erow;
    }
    # The lead (or another helper) implements this part; it may fail now:
    # explain() shows no relation_size of a relation the caller may not touch.
    push @leaks, sprintf("%-10s | %s | %s relation(s)", $c->{role}, $c->{sql}, $e->{leak})
      if $c->{role} eq 'intruder' && $e->{state} eq 'OK' && ($e->{leak} // '0') ne '0';
}

for my $group (@group_order)
{
    my $bad = $group_bad{$group}{named} || [];
    ok(!@$bad, "execution matches vanilla: $group")
      or diag join("\n", 'role       | vanilla | guarded | statement', @$bad);
}
# GD001 where PostgreSQL refuses up front for a reason other than the
# preconditions the issue names (existence, relkind, ownership or privilege,
# columns): dependent objects, no previously clustered index, a feature
# partitioned or foreign tables lack, ... A rule must not fire there either,
# but these are asserted apart so the two kinds of work show separately.
for my $group (@group_order)
{
    my $bad = $group_bad{$group}{other} || [];
    ok(!@$bad, "execution matches vanilla, other up-front refusals: $group")
      or diag join("\n", 'role       | vanilla | guarded | statement', @$bad);
}
for my $group (@group_order)
{
    my $bad = $explain_group_bad{$group} || [];
    ok(!@$bad, "explain() steps aside: $group")
      or diag join("\n", 'role       | vanilla | statement | explain()', @$bad);
}
# The lead (or another helper) implements this part; it may fail now.
ok(!@leaks, 'explain() shows no relation_size of relations the intruder may not touch')
  or diag join("\n", @leaks);

diag scalar(@blocked_ok) . ' cases vanilla runs and guarded blocks with GD001 (the rules\' job):';
diag join("\n", @blocked_ok) if @blocked_ok;
diag scalar(@data_blocked)
  . ' cases vanilla fails on the data (class 23) and guarded blocks with GD001 first:';
diag join("\n", @data_blocked) if @data_blocked;

# Every case's outcome, for whoever reads the mismatches.
my $all = "$PostgreSQL::Test::Utils::tmp_check/wrong_target_cases.txt";
PostgreSQL::Test::Utils::append_to_file($all,
    join('', map {
        my $e = $ge->{ $_->{id} };
        sprintf("%-10s | %-7s | %-7s | %-16s | %s\n", $_->{role}, show($vx->{ $_->{id} }),
            show($gx->{ $_->{id} }),
            $e->{state} eq 'OK' ? "rows=$e->{n} rules=$e->{rules}" : show($e), $_->{sql})
    } @cases));
my @unanswered = grep { !$vx->{ $_->{id} } || !$gx->{ $_->{id} } || !$ge->{ $_->{id} } } @cases;
ok(!@unanswered, 'every case has an outcome on both servers and from explain()')
  or diag join("\n", map { "$_->{role}: $_->{sql}" } @unanswered);

my $findings = "$PostgreSQL::Test::Utils::tmp_check/wrong_target_mismatches.txt";
PostgreSQL::Test::Utils::append_to_file($findings,
    join("\n", '# execution: role | vanilla | guarded | statement', @mismatch,
        '', '# explain(): role | vanilla | statement | explain()', @explain_bad,
        '', '# explain() relation_size leaks (intruder)', @leaks, ''));
note "mismatches written to $findings";
note sprintf('%d cases: %d execution mismatches, %d explain() failures',
    scalar(@cases), scalar(@mismatch), scalar(@explain_bad));

# ---------------------------------------------------------------------------
# Named requirement: a non-owner's TRUNCATE / DROP COLUMN of a large table is
# PostgreSQL's 42501, not GD001.
for my $sql ('TRUNCATE app.big', 'ALTER TABLE app.big DROP COLUMN a')
{
    my ($ret, $out, $err) = $guarded->psql('postgres', "\\set VERBOSITY verbose\nSET SESSION AUTHORIZATION intruder;\n$sql;");
    like($err, qr/ERROR:  42501: must be owner of table big|ERROR:  42501: permission denied for table big/,
        "intruder: $sql is 42501 on the guarded server")
      or diag $err;
}

# ---------------------------------------------------------------------------
# The server logs: no backend died, nothing reported XX000, and the guarded
# server still answers.
for my $node ($vanilla, $guarded)
{
    my $log = slurp_file($node->logfile);
    my @signals = grep { /terminated by signal/ } split /\n/, $log;
    my @internal = grep { / XX000 / } split /\n/, $log;
    if ($node == $guarded)
    {
        ok(!@signals, 'no backend of the guarded server was terminated by a signal')
          or diag scalar(@signals) . " crashes:\n" . join("\n", @signals);
        ok(!@internal, 'the guarded server logged no XX000')
          or diag scalar(@internal) . " XX000 lines:\n" . join("\n", @internal);
    }
    else
    {
        ok(!@signals && !@internal, 'vanilla: no crash and no XX000 (the baseline is sane)')
          or diag join("\n", @signals, @internal);
    }
}
is($guarded->safe_psql('postgres', 'SELECT 1'), '1', 'the guarded server is up after the matrix');

done_testing();
