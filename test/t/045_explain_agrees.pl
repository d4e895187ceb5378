# Issue 12's property: guarded_ddl.explain(text, single_transaction) agrees
# with running the text, statement by statement, in both transaction modes.
#
# Texts of 2 to 8 statements are generated (fixed seed, so a failure
# reproduces) from the single-statement cases of the regression suites
# (rules, explain, observed_effects, preconditions), text-level pieces
# (BEGIN/COMMIT/ROLLBACK, SET [LOCAL] TimeZone, search_path and
# guarded_ddl.rules, a table the text creates, CHECKs it adds and
# validates) and statements PostgreSQL refuses; then a few fixed texts with
# DML under a strong lock the text takes (rule dml_under_strong_lock). Every table is large and
# guarded_ddl.mode is warn, so every rule that would block a statement
# shows as a WARNING (SQLSTATE GD001, "guarded_ddl: rule <name>: ...") and
# the text runs on.
#
# Each text runs for real, on a fresh copy of a template database (psql -f
# semantics; or inside BEGIN ... COMMIT for single_transaction), or, in
# single_transaction mode when the text has no transaction control of its
# own, inside BEGIN ... ROLLBACK in one shared copy. A \warn marker before
# each statement goes to stderr, the stream psql writes the server's
# WARNINGs and ERRORs to, so each message is attributed to its statement.
#
# Agreement, per statement: the rules explain() gives verdict warn or block
# are the rules execution warned (or was blocked) about, whether or not the
# statement then failed (a statement PostgreSQL refuses outright warns
# about nothing, so explain() must name nothing either). Not compared:
# statements explain() calls unknown, and statements execution never ran
# because an earlier one of the same transaction failed (25P02); both are
# counted. Disagreements after an earlier failure are marked, since
# explain() does not model failures.
#
# AGREE_SEED and AGREE_TEXTS change the seed and the number of texts,
# AGREE_TEXTS_FILE gives texts to check instead;
# AGREE_OUT names a file to write the disagreements to.
use strict;
use Cwd ();
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $seed = $ENV{AGREE_SEED} // 20240612;
my $n_texts = $ENV{AGREE_TEXTS} // 300;
my $started = time;

my $node = PostgreSQL::Test::Cluster->new('explain_agrees');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'guarded_ddl'
guarded_ddl.large_table_size = 0
guarded_ddl.large_table_rows = 0
# No audit writer connected to the template or to the copies being dropped;
# the guard's decisions do not depend on auditing.
guarded_ddl.audit = off
autovacuum = off
fsync = off
log_min_messages = fatal
log_min_error_statement = panic
});
$node->start;

# ---- The base schema, in a template database ----

my $base_schema = q{
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT g FROM generate_series(1, 20) g;
CREATE TABLE t (id int NOT NULL, a int, v varchar(10), n numeric(10, 2), ts timestamp,
    code varchar(20), note text);
INSERT INTO t SELECT g, g, 'v' || g, g, '2025-01-01'::timestamp + g * interval '1 hour', 'c' || g,
    CASE WHEN g % 2 = 0 THEN 'x' END FROM generate_series(1, 20) g;
ALTER TABLE t ADD CONSTRAINT a_positive CHECK (a > 0) NOT VALID;
ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;
ALTER TABLE t ADD CONSTRAINT code_valid CHECK (code <> '');
ALTER TABLE t ADD CONSTRAINT v_short CHECK (length(v) < 10);
CREATE INDEX t_a ON t (a);
CREATE TABLE child (id int, parent_id int);
INSERT INTO child SELECT g, g FROM generate_series(1, 20) g;
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;
INSERT INTO events VALUES (1, '2024-05-01'), (2, '2030-01-01');
CREATE TABLE events_2025 (id int, at date);
INSERT INTO events_2025 VALUES (3, '2025-03-01');
CREATE SCHEMA other;
CREATE TABLE other.t (id int, a text);
INSERT INTO other.t VALUES (1, 'one');
ANALYZE parent, t, child, events, events_2025, other.t;
};
# explain() runs in one database, the texts in another; both start with
# the base schema, and the second gets it back before each text that needs
# a fresh start.
$node->safe_psql('postgres', 'CREATE DATABASE explained; CREATE DATABASE executed');
$node->safe_psql($_, "SET guarded_ddl.mode = off;\nCREATE EXTENSION guarded_ddl;\n$base_schema")
  for qw(explained executed);

# Back to the base schema: whatever the text left open rolled back, the
# session's settings as it started (guarded_ddl.mode = warn from PGOPTIONS),
# every table of public and other dropped and made again.
my $reset = q{\warn @@setup
ROLLBACK;
RESET ALL;
SET guarded_ddl.mode = off;
DO $reset$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT format('%I.%I', n.nspname, c.relname) AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'other') AND c.relkind IN ('r', 'p', 'v', 'm')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE 'DROP TABLE IF EXISTS ' || r.name || ' CASCADE';
    END LOOP;
END
$reset$;
DROP SCHEMA IF EXISTS other CASCADE;
} . $base_schema . "RESET ALL;\n";

# ---- The statement pool ----

# Atoms: one statement each; 'conc' ones cannot run in a transaction block.
my @atoms = (
    # ADD COLUMN
    'ALTER TABLE t ADD COLUMN c1 int;',
    'ALTER TABLE t ADD COLUMN c2 int DEFAULT 42;',
    'ALTER TABLE t ADD COLUMN c3 timestamptz DEFAULT clock_timestamp();',
    'ALTER TABLE t ADD COLUMN c4 int NOT NULL;',
    'ALTER TABLE t ADD COLUMN c5 int NOT NULL DEFAULT 0;',
    'ALTER TABLE t ADD COLUMN c6 int CHECK (c6 > 0);',
    'ALTER TABLE t ADD COLUMN c7 int REFERENCES parent (id);',
    'ALTER TABLE t ADD COLUMN c8 int UNIQUE;',
    'ALTER TABLE t ADD COLUMN c9 uuid DEFAULT gen_random_uuid();',
    'ALTER TABLE t ADD COLUMN c10 int GENERATED ALWAYS AS (a * 2) STORED;',
    'ALTER TABLE t ADD COLUMN c11 serial;',
    q{ALTER TABLE child ADD COLUMN label text DEFAULT 'x';},
    # ALTER COLUMN TYPE
    'ALTER TABLE t ALTER COLUMN v TYPE varchar(20);',
    'ALTER TABLE t ALTER COLUMN v TYPE text;',
    'ALTER TABLE t ALTER COLUMN a TYPE bigint;',
    'ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 2);',
    'ALTER TABLE t ALTER COLUMN n TYPE numeric(10, 1);',
    'ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;',
    'ALTER TABLE t ALTER COLUMN code TYPE varchar(30);',
    'ALTER TABLE events ALTER COLUMN id TYPE bigint;',
    # SET NOT NULL
    'ALTER TABLE t ALTER COLUMN a SET NOT NULL;',
    'ALTER TABLE t ALTER COLUMN note SET NOT NULL;',
    'ALTER TABLE child ALTER COLUMN parent_id SET NOT NULL;',
    # CHECK
    'ALTER TABLE t ADD CONSTRAINT a_small CHECK (a < 1000);',
    'ALTER TABLE t ADD CONSTRAINT a_small CHECK (a < 1000) NOT VALID;',
    'ALTER TABLE t VALIDATE CONSTRAINT a_positive;',
    'ALTER TABLE t VALIDATE CONSTRAINT a_small;',
    'ALTER TABLE t VALIDATE CONSTRAINT a_nn;',
    'ALTER TABLE t DROP CONSTRAINT a_nn;',
    # FOREIGN KEY
    'ALTER TABLE child ADD CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id);',
    'ALTER TABLE child ADD CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID;',
    'ALTER TABLE child VALIDATE CONSTRAINT child_parent;',
    'ALTER TABLE t ADD CONSTRAINT t_parent FOREIGN KEY (id) REFERENCES parent (id) NOT VALID;',
    # UNIQUE, PRIMARY KEY
    'ALTER TABLE t ADD CONSTRAINT t_a_unique UNIQUE (a);',
    'ALTER TABLE t ADD PRIMARY KEY (id);',
    'ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_key;',
    # indexes
    'CREATE INDEX t_v ON t (v);',
    'CREATE UNIQUE INDEX t_id_key ON t (id);',
    [ 'CREATE INDEX CONCURRENTLY t_v ON t (v);', 'conc' ],
    [ 'CREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id);', 'conc' ],
    'DROP INDEX t_a;',
    [ 'DROP INDEX CONCURRENTLY t_a;', 'conc' ],
    'REINDEX TABLE t;',
    'CLUSTER t USING t_a;',
    [ 'VACUUM FULL child;', 'conc' ],
    # renames, drops
    'ALTER TABLE t RENAME COLUMN note TO remark;',
    'ALTER TABLE t RENAME TO t_renamed;',
    'ALTER TABLE child RENAME COLUMN parent_id TO pid;',
    'ALTER TABLE t DROP COLUMN note;',
    'ALTER TABLE t DROP COLUMN code;',
    'ALTER TABLE child DROP COLUMN parent_id;',
    'TRUNCATE child;',
    'TRUNCATE parent;',
    'ALTER TABLE t SET SCHEMA other;',
    'ALTER TABLE child SET UNLOGGED;',
    # partitions
    q{ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');},
    'ALTER TABLE events DETACH PARTITION events_2024;',
    'ALTER TABLE events DETACH PARTITION events_other;',
    [ 'ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;', 'conc' ],
    # locks
    'LOCK TABLE t IN ACCESS EXCLUSIVE MODE;',
    'LOCK TABLE child IN ACCESS EXCLUSIVE MODE;',
    'LOCK TABLE events_2025 IN SHARE MODE;',
    # settings
    q{SET LOCAL TimeZone = 'UTC';},
    q{SET TimeZone = 'UTC';},
    'RESET TimeZone;',
    q{SET guarded_ddl.rules = 'drop_column=off';},
    q{SET guarded_ddl.rules = 'rename_column=enforce, alter_column_type_rewrite=off';},
    q{SET LOCAL guarded_ddl.rules = 'set_not_null_scan=off';},
    'RESET guarded_ddl.rules;',
    'SET search_path = other, public;',
    'RESET search_path;',
    'ALTER TABLE t ALTER COLUMN a TYPE int;',
    # a table the text creates
    'CREATE TABLE fresh (id int, x text);',
    'ALTER TABLE fresh ADD COLUMN y int NOT NULL;',
    'CREATE INDEX fresh_id ON fresh (id);',
    'ALTER TABLE fresh ALTER COLUMN id TYPE bigint;',
    q{INSERT INTO fresh VALUES (1, 'a');},
    # statements PostgreSQL refuses
    'ALTER TABLE t ALTER COLUMN nope SET NOT NULL;',
    'ALTER TABLE t_a ADD COLUMN z int;',
    'TRUNCATE t_a;',
    'CREATE INDEX t_nope ON t (nope);',
    'ALTER TABLE t DROP COLUMN nope;',
    'ALTER TABLE nosuch ADD COLUMN z int;',
    'ALTER TABLE t ADD COLUMN a int NOT NULL;',
    q{ALTER TABLE t ATTACH PARTITION events_2025 FOR VALUES IN (1);},
    'ALTER TABLE t ALTER COLUMN v TYPE int;',
);

# Snippets: statements that mean something together.
my @snippets = (
    [ 'ALTER TABLE t ADD COLUMN x int;', 'ALTER TABLE t ALTER COLUMN x SET NOT NULL;' ],
    [
        'ALTER TABLE t ADD CONSTRAINT a_nn2 CHECK (a IS NOT NULL) NOT VALID;',
        'ALTER TABLE t VALIDATE CONSTRAINT a_nn2;',
        'ALTER TABLE t ALTER COLUMN a SET NOT NULL;'
    ],
    [ 'ALTER TABLE t ADD CONSTRAINT a_nn3 CHECK (a IS NOT NULL);', 'ALTER TABLE t ALTER COLUMN a SET NOT NULL;' ],
    [ 'ALTER TABLE t VALIDATE CONSTRAINT a_nn;', 'ALTER TABLE t ALTER COLUMN a SET NOT NULL;' ],
    [
        'ALTER TABLE t ADD CONSTRAINT note_nn CHECK (note IS NOT NULL) NOT VALID;',
        'ALTER TABLE t VALIDATE CONSTRAINT note_nn;',
        'ALTER TABLE t ALTER COLUMN note SET NOT NULL;'
    ],
    [
        q{ALTER TABLE events_2025 ADD CONSTRAINT in_2025 CHECK (at IS NOT NULL AND at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;},
        'ALTER TABLE events_2025 VALIDATE CONSTRAINT in_2025;',
        q{ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');}
    ],
    [ q{SET LOCAL TimeZone = 'UTC';}, 'ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;' ],
    [ q{SET TimeZone = 'UTC';}, 'ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;' ],
    [ 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE;', 'ALTER TABLE t VALIDATE CONSTRAINT a_positive;' ],
    [ 'ALTER TABLE t RENAME COLUMN note TO remark;', 'ALTER TABLE t VALIDATE CONSTRAINT a_positive;' ],
    [ 'ALTER TABLE child ADD CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID;',
        'ALTER TABLE child VALIDATE CONSTRAINT child_parent;' ],
    [ 'ALTER TABLE t RENAME COLUMN a TO a2;', 'ALTER TABLE t ALTER COLUMN a2 SET NOT NULL;' ],
    [ 'ALTER TABLE t RENAME TO t_renamed;', 'ALTER TABLE t_renamed DROP COLUMN note;' ],
    [ 'CREATE TABLE fresh (id int, x text);', 'ALTER TABLE fresh ADD COLUMN y int NOT NULL;',
        'CREATE INDEX fresh_id ON fresh (id);' ],
    [ 'SET search_path = other, public;', 'ALTER TABLE t ALTER COLUMN a TYPE int;',
        'ALTER TABLE t DROP COLUMN note;' ],
    [ q{SET guarded_ddl.rules = 'drop_column=off';}, 'ALTER TABLE t DROP COLUMN note;',
        'RESET guarded_ddl.rules;', 'ALTER TABLE t DROP COLUMN code;' ],
    [ 'ALTER TABLE t DROP CONSTRAINT v_short;', 'ALTER TABLE t ALTER COLUMN v TYPE varchar(20);' ],
);

# ---- Generation: a deterministic LCG, the same texts on every machine ----

my $state = $seed % 2147483648;
sub rnd
{
    my ($n) = @_;
    $state = (1103515245 * $state + 12345) % 2147483648;
    return int(($state / 2147483648) * $n);
}

sub atom { my $a = $_[0]; return ref $a ? @$a : ($a, '') }

# A text: statements (without transaction control) of 2 to 8 statements,
# then perhaps a BEGIN somewhere and a COMMIT, a ROLLBACK or nothing after
# it. CONCURRENTLY-like statements stay out of the block.
sub generate
{
    my $target = 2 + rnd(7);
    my @stmts;
    my %conc;
    while (@stmts < $target)
    {
        if (rnd(4) == 0)
        {
            push @stmts, @{ $snippets[ rnd(scalar @snippets) ] };
        }
        else
        {
            my ($sql, $flag) = atom($atoms[ rnd(scalar @atoms) ]);
            $conc{ scalar @stmts } = 1 if $flag eq 'conc';
            push @stmts, $sql;
        }
    }
    splice(@stmts, 8) if @stmts > 8;
    my $has_conc = grep { $_ < @stmts } keys %conc;
    my $kind = rnd(10);
    if ($kind < 4 && @stmts >= 2)
    {
        my $from = rnd(scalar @stmts);
        my $to = $from + rnd(scalar @stmts - $from + 1);    # block holds $from .. $to-1
        my $inside = grep { $_ >= $from && $_ < $to } keys %conc;
        if (!$inside)
        {
            my $end = rnd(3);
            splice(@stmts, $to, 0, $end == 0 ? 'COMMIT;' : 'ROLLBACK;') if $end < 2;
            splice(@stmts, $from, 0, 'BEGIN;');
        }
    }
    return { stmts => \@stmts, conc => $has_conc };
}

# AGREE_TEXTS_FILE: texts to check instead (statements one a line, texts
# separated by blank lines), to look at one finding closely.
my @given;
if ($ENV{AGREE_TEXTS_FILE})
{
    open my $fh, '<', $ENV{AGREE_TEXTS_FILE} or die "$ENV{AGREE_TEXTS_FILE}: $!";
    local $/ = '';
    while (my $para = <$fh>)
    {
        my @stmts = grep { /\S/ && !/^--/ } map { s/^\s+|\s+$//gr } split /\n/, $para;
        push @given, { stmts => \@stmts, conc => scalar(grep { /CONCURRENTLY|^VACUUM/ } @stmts) } if @stmts;
    }
    $n_texts = @given;
}

# DML under a strong lock the text takes (rule dml_under_strong_lock; the
# tables have 20 rows, so the texts lower the limit). Fixed texts after the
# generated ones, which they leave as they were: a DROP in a generated text
# would meet the guard's own bookkeeping DML (forget_tables), which the hook
# judges too, and at a limit this low it fires.
my @dml_texts = (
    # the backfill of a column just added: explain() estimates it without
    # the column; a small batch passes
    [ 'SET guarded_ddl.max_rows_under_lock = 5;', 'BEGIN;', 'ALTER TABLE t ADD COLUMN bf int;',
        'UPDATE t SET bf = id WHERE id <= 2;', 'UPDATE t SET bf = id;', 'COMMIT;' ],
    [ 'SET guarded_ddl.max_rows_under_lock = 5;', 'ALTER TABLE t ADD COLUMN bf int;',
        'UPDATE t SET bf = id;' ],
    # LOCK TABLE; SHARE is not strong enough; a lock rolled back to a
    # savepoint is released
    [ 'SET guarded_ddl.max_rows_under_lock = 5;', 'BEGIN;', 'LOCK TABLE child IN SHARE MODE;',
        'DELETE FROM child WHERE id > 0;', 'LOCK TABLE child IN SHARE ROW EXCLUSIVE MODE;',
        'DELETE FROM child WHERE id > 0;', 'INSERT INTO parent SELECT g FROM generate_series(100, 120) g;',
        'ROLLBACK;' ],
    [ 'SET guarded_ddl.max_rows_under_lock = 5;', 'BEGIN;', 'SAVEPOINT s;',
        'LOCK TABLE t IN ACCESS EXCLUSIVE MODE;', 'ROLLBACK TO SAVEPOINT s;', 'UPDATE t SET a = a;',
        'LOCK TABLE t IN ACCESS EXCLUSIVE MODE;', 'UPDATE t SET a = a;', 'COMMIT;' ],
    # a table the text creates is never large
    [ 'SET guarded_ddl.max_rows_under_lock = 5;', 'BEGIN;', 'CREATE TABLE fresh (id int, x text);',
        'LOCK TABLE fresh IN ACCESS EXCLUSIVE MODE;', 'INSERT INTO fresh SELECT id, v FROM t;', 'COMMIT;' ],
);

my @texts;
for my $i (1 .. $n_texts + (@given ? 0 : scalar @dml_texts))
{
    my $t = @given ? $given[ $i - 1 ]
      : $i <= $n_texts ? generate()
      : { stmts => $dml_texts[ $i - $n_texts - 1 ], conc => 0 };
    $t->{id} = $i;
    $t->{txctl} = grep { /^(BEGIN|COMMIT|ROLLBACK);$/ } @{ $t->{stmts} };
    push @texts, $t;
}

sub text_sql { return join("\n", @{ $_[0]{stmts} }) . "\n" }

# ---- Running psql scripts ----

# Absolute: PostgreSQL 18's tempdir is relative to the test's directory.
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);
my $script_no = 0;

# Starts a psql script on a database with guarded_ddl.mode = warn; finish()
# then gives (stdout, stderr). The explain side and the execution side run
# side by side.
sub start_script
{
    my ($db, $script, @opts) = @_;
    my $file = "$tmp/script" . ++$script_no . '.sql';
    open my $fh, '>', $file or die "$file: $!";
    print $fh $script;
    close $fh;
    local $ENV{PGOPTIONS} = '-c guarded_ddl.mode=warn';
    my $run = { out => '', err => '' };
    $run->{h} = IPC::Run::start(
        [
            'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-v', 'VERBOSITY=verbose', @opts,
            '-d', $node->connstr($db), '-f', $file
        ],
        '<', \undef, '>', \$run->{out}, '2>', \$run->{err});
    return $run;
}

sub finish
{
    my ($run) = @_;
    $run->{h}->finish;
    return ($run->{out}, $run->{err});
}

# Messages between \warn markers "@@key": key => [ [level, sqlstate, message] ].
sub attribute
{
    my ($err) = @_;
    my %by;
    my $key = '';
    for my $line (split /\n/, $err)
    {
        if ($line =~ /^@@(\S+)$/)
        {
            $key = $1;
            $by{$key} //= [];
            next;
        }
        if ($line =~ /\b(WARNING|ERROR|FATAL|PANIC):\s+([0-9A-Z]{5}):\s+(.*)$/)
        {
            push @{ $by{$key} }, [ $1, $2, $3 ];
        }
    }
    return \%by;
}

# ---- Explain side: every text in both modes, one session ----

my @modes = ('f', 'single');
my $explain_script = '';
for my $t (@texts)
{
    for my $mode (@modes)
    {
        next if $mode eq 'single' && $t->{conc};
        my $st = $mode eq 'single' ? 'true' : 'false';
        $explain_script .= "\\warn \@\@$t->{id}:$mode\n"
          . "SELECT '$t->{id}:$mode', statement_no, coalesce(rule, ''), coalesce(verdict, '')"
          . " FROM guarded_ddl.explain(\$gd\$\n"
          . text_sql($t)
          . "\$gd\$, $st);\n";
    }
}
my $explain_run = start_script('explained', $explain_script, '-At', '-F', '|');

# ---- Execution side, in one session ----

# A text's statements, each after its marker "@@id:mode:k".
sub marked
{
    my ($t, $mode) = @_;
    my $s = '';
    my $k = 0;
    $s .= "\\warn \@\@$t->{id}:$mode:" . ++$k . "\n$_\n" for @{ $t->{stmts} };
    return $s . "\\warn \@\@$t->{id}:$mode:end\n";
}

# In single_transaction mode, a text without transaction control of its own
# runs inside BEGIN ... ROLLBACK and leaves nothing behind: those go first,
# on the base schema. Any other text runs after the base schema is made
# again: as psql -f runs it, or, in single_transaction mode, inside
# BEGIN ... COMMIT as psql -1 runs it.
my $exec_script = '';
for my $t (@texts)
{
    next if $t->{conc} || $t->{txctl};
    $exec_script .= "\\warn \@\@$t->{id}:single:0\nBEGIN;\n" . marked($t, 'single') . "ROLLBACK;\n";
}
for my $t (@texts)
{
    $exec_script .= $reset . marked($t, 'f');
    $exec_script .= $reset . "\\warn \@\@$t->{id}:single:0\nBEGIN;\n" . marked($t, 'single') . "COMMIT;\n"
      if $t->{txctl} && !$t->{conc};
}
my $exec_run = start_script('executed', $exec_script);

my ($ex_out, $ex_err) = finish($explain_run);
my $ex_msgs = attribute($ex_err);
my %explained;    # "id:mode" => { stmt_no => { rules => {..}, unknown => 0/1 } }
for my $line (split /\n/, $ex_out)
{
    my ($key, $no, $rule, $verdict) = split /\|/, $line, -1;
    next unless defined $verdict;
    my $s = ($explained{$key}{$no} //= { rules => {}, unknown => 0 });
    $s->{unknown} = 1 if $verdict eq 'unknown';
    $s->{rules}{$rule} = 1 if $rule ne '' && ($verdict eq 'warn' || $verdict eq 'block');
}
note(sprintf('explain side: %.1fs', time - $started));

my (undef, $exec_err) = finish($exec_run);
my $exec_msgs = attribute($exec_err);
is(scalar(grep { $_->[0] ne 'WARNING' } @{ $exec_msgs->{setup} // [] }),
    0, 'the base schema was made again before each text')
  or diag(explain($exec_msgs->{setup}));
note(sprintf('execution side: %.1fs', time - $started));

# ---- Agreement ----

my %count = (compared => 0, unknown => 0, aborted => 0, failed => 0, disagree => 0, texts => 0,
    excused => 0);
my (@findings, @excused);
sub fmt_set { my %s = %{ $_[0] }; return '{' . join(', ', sort keys %s) . '}' }
sub show_text { return join('', map { "    $_\n" } @{ $_[0]{stmts} }) }

for my $t (@texts)
{
    for my $mode (@modes)
    {
        next if $mode eq 'single' && $t->{conc};
        $count{texts}++;
        my $key = "$t->{id}:$mode";
        my (@bad, @data);
        my @ex_err = grep { $_->[0] ne 'WARNING' } @{ $ex_msgs->{$key} // [] };
        push @bad, "explain() failed: $ex_err[0][1] $ex_err[0][2]" if @ex_err;
        # An earlier statement failed: on what the catalogs say (explain()
        # could know), or on the data (a VALIDATE or SET NOT NULL meeting a
        # violating row, class 23; explain() cannot know, and what it
        # predicts after that assumes the statement succeeded).
        my ($earlier_failure, $data_failure) = (0, 0);
        for my $k (1 .. scalar @{ $t->{stmts} })
        {
            my $msgs = $exec_msgs->{"$key:$k"};
            if (!defined $msgs)
            {
                push @bad, "statement $k: no execution marker";
                next;
            }
            my %exec_rules;
            my $error;
            for my $m (@$msgs)
            {
                $error //= $m->[1] if $m->[0] eq 'ERROR';
                $exec_rules{$1} = 1 if $m->[1] eq 'GD001' && $m->[2] =~ /^guarded_ddl: rule (\w+):/;
            }
            my $e = $explained{$key}{$k};
            if (!$e)
            {
                push @bad, "statement $k: no row from explain()" unless @ex_err;
                next;
            }
            if (defined $error && $error eq '25P02')
            {
                $count{aborted}++;
                next;
            }
            $count{failed}++ if defined $error;
            if ($e->{unknown})
            {
                $count{unknown}++;
            }
            else
            {
                $count{compared}++;
                if (fmt_set($e->{rules}) ne fmt_set(\%exec_rules))
                {
                    my $d = sprintf("statement %d: explain %s, execution %s%s", $k, fmt_set($e->{rules}),
                        fmt_set(\%exec_rules), defined $error ? " (then ERROR $error)" : '');
                    if ($data_failure)
                    {
                        push @data, "$d [after an earlier statement failed on the data]";
                    }
                    else
                    {
                        push @bad, $d . ($earlier_failure ? ' [after an earlier failure]' : '');
                    }
                }
            }
            if (defined $error)
            {
                $earlier_failure = 1;
                $data_failure = 1 if $error =~ /^23/;
            }
        }
        my $what = "text $t->{id}, mode "
          . ($mode eq 'f' ? 'psql -f (single_transaction => false)' : 'single_transaction => true') . ":\n"
          . show_text($t);
        $count{disagree}++ if @bad;
        ok(!@bad, "text $t->{id} ($mode): explain() agrees with execution")
          or diag($what . join('', map { "  $_\n" } @bad));
        push @findings, $what . join('', map { "  $_\n" } @bad) if @bad;
        if (@data)
        {
            $count{excused}++;
            push @excused, $what . join('', map { "  $_\n" } @data);
        }
    }
}

diag(sprintf(
    "%d runs (texts x modes, seed %d): %d statements compared, %d unknown in explain(), "
      . "%d failed in execution, %d not run (transaction aborted); %d runs disagree; "
      . "%d more differ only after a statement failed on the data; %.0fs",
    $count{texts}, $seed, $count{compared}, $count{unknown}, $count{failed}, $count{aborted},
    $count{disagree}, $count{excused}, time - $started));
note("differing only after a statement failed on the data (not counted):\n" . join("\n", @excused))
  if @excused;
if ($ENV{AGREE_OUT})
{
    open my $fh, '>', $ENV{AGREE_OUT} or die "$ENV{AGREE_OUT}: $!";
    print $fh join("\n", @findings), "\n---- only after a statement failed on the data:\n\n",
      join("\n", @excused);
    close $fh;
}

# The comparison compared something, and execution ran the texts.
cmp_ok($count{compared}, '>=', $n_texts, 'statements were compared');

$node->stop;
done_testing();
