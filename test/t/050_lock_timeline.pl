# Issue 13: guarded_ddl.lock_timeline() on a real little migration. Large
# tables get a normal ALTER, one blocked by a rule, one that fails behind a
# reader, one with a quote-and-markup statement text, and a transaction the
# lock-hold cap cancels. The reviewer's timeline must be well-formed XML (xmllint), show a
# lane per relation, each bar's statement and role, the blocked, failed and
# capped marks, nothing active (scripts, links, handlers), and render in a
# real browser (headless Chromium) to a picture that is not blank.
# xmllint and chromium come from Debian (test/lib.sh installs them); a
# missing one fails the test.
use strict;
use Cwd ();
use warnings;
use Compress::Zlib ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lock_timeline');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
});
$node->start;
# Absolute: PostgreSQL 18's tempdir is relative to the test's directory.
my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);

$node->safe_psql('postgres', q{
CREATE EXTENSION guarded_ddl;
CREATE ROLE migrator LOGIN;
CREATE ROLE reviewer LOGIN;
CREATE ROLE outsider LOGIN;
GRANT USAGE ON SCHEMA guarded_ddl TO reviewer, outsider;
GRANT SELECT ON guarded_ddl.ddl_log, guarded_ddl.lock_log TO reviewer;
CREATE TABLE users (id int PRIMARY KEY, name text);
INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 300000) AS g;
ANALYZE users;
CREATE TABLE orders (id int PRIMARY KEY, user_id int);
ALTER TABLE users OWNER TO migrator;
ALTER TABLE orders OWNER TO migrator;
SELECT guarded_ddl.set_table_policy('orders', large => true);
-- Superuser settings, for the migrator's sessions: a short lock-hold cap,
-- and a lock budget a blocker can exhaust quickly.
ALTER ROLE migrator SET guarded_ddl.max_lock_hold = '500ms';
ALTER ROLE migrator SET guarded_ddl.lock_retries = 3;
ALTER ROLE migrator SET guarded_ddl.lock_retry_delay = '20ms';
SELECT guarded_ddl.flush();
});

my $since = $node->safe_psql('postgres', 'SELECT clock_timestamp()');

# Runs sql as the migrator; returns its stderr.
sub migrate
{
    my ($sql) = @_;
    my ($ret, $out, $err) =
      $node->psql('postgres', $sql, extra_params => [ '-U', 'migrator' ]);
    return $err;
}

is(migrate('ALTER TABLE users ADD COLUMN full_name text;'), '', 'a normal ALTER passes');
like(migrate('ALTER TABLE users ALTER COLUMN id TYPE bigint;'),
    qr/rule alter_column_type_rewrite/, 'a type change of the large table is blocked');
# A reader in the way: the ALTER waits, retries and fails with 55P03.
my $holder = $node->background_psql('postgres', on_error_stop => 0);
$holder->query_safe('BEGIN; SELECT count(*) FROM orders;');
like(migrate('ALTER TABLE orders ADD COLUMN waited int;'),
    qr/could not obtain AccessExclusiveLock on relation "public.orders" after 3 attempts/,
    'an ALTER behind a reader fails when its lock budget runs out');
$holder->query_safe('COMMIT');
$holder->quit;
is(migrate(q{ALTER TABLE orders ADD COLUMN "<b>&""'" text;}), '',
    'a column whose name is markup and quotes is added');
like(
    migrate(q{
BEGIN;
ALTER TABLE users ADD COLUMN nickname text;
SELECT pg_sleep(2);
}), qr/longer than guarded_ddl.max_lock_hold \(500ms\)/,
    'the transaction holding the lock too long is capped');

my $until = $node->safe_psql('postgres',
    'SELECT guarded_ddl.flush(); SELECT clock_timestamp()');
$until =~ s/^t\n//;

# What the log holds, to compare the drawing with.
is( $node->safe_psql('postgres', qq{
SELECT string_agg(d.verdict || ' ' || coalesce(d.sqlstate, '-') || ' ' || d.command, ', ' ORDER BY d.id)
  FROM guarded_ddl.ddl_log d
 WHERE d.started_at BETWEEN '$since' AND '$until' AND d.command <> 'SET'}),
    'allowed - ALTER TABLE, blocked GD001 ALTER TABLE, failed 55P03 ALTER TABLE, '
      . 'allowed - ALTER TABLE, allowed - ALTER TABLE, blocked GD002 LOCK HOLD CAP',
    'the log has the migration: allowed, blocked, failed, allowed, allowed, capped');

# The reviewer (SELECT on the log, nothing else) draws the window.
my ($ret, $svg, $err) = $node->psql('postgres',
    "SELECT guarded_ddl.lock_timeline('$since', '$until')",
    extra_params => [ '-U', 'reviewer' ]);
is($err, '', 'a reviewer with SELECT on the log may call it');
my ($ret2, $again) = $node->psql('postgres',
    "SELECT guarded_ddl.lock_timeline('$since', '$until')",
    extra_params => [ '-U', 'reviewer' ]);
is($again, $svg, 'the same window gives the same document');

my $svg_file = "$tmp/timeline.svg";
open my $fh, '>:raw', $svg_file or die "$svg_file: $!";
print $fh $svg;
close $fh;

my ($xml_out, $xml_err) = ('', '');
# eval: a missing program is a failed check, not a dead script.
my $xml_ok = eval {
    IPC::Run::run([ 'xmllint', '--noout', $svg_file ], '>', \$xml_out, '2>', \$xml_err);
};
$xml_err .= $@ if $@;
ok($xml_ok, 'xmllint accepts the document') or diag($xml_err);

my $count = sub { my ($re) = @_; my @m = ($svg =~ /$re/g); return scalar @m; };
like($svg, qr/\A<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/,
    'an SVG document');
is($count->(qr/<g class="lane">/), 2, 'two lanes: the two relations used');
like($svg, qr{<g class="lane"><title>public\.users</title>}, 'a lane for users');
like($svg, qr{<g class="lane"><title>public\.orders</title>}, 'a lane for orders');
is($count->(qr/<g class="bar[ "]/), $node->safe_psql('postgres', qq{
SELECT count(*) FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
 WHERE d.started_at BETWEEN '$since' AND '$until'}), 'a bar per lock row');
like($svg,
    qr{<g class="bar"><title>ALTER TABLE users ADD COLUMN full_name text\nrole: migrator\nAccessExclusiveLock on public\.users\nwait: [0-9.]+ m?s\nhold: [0-9.]+ m?s\nverdict: allowed},
    "a bar's title has the statement, role, mode, wait and hold");
# The cap ended the transaction about 500ms after the grant (timer and
# scheduling add a little); uncapped, pg_sleep(2) would make it 2s.
my ($capped_hold) = $svg =~ m{<title>ALTER TABLE users ADD COLUMN nickname text\nrole: migrator\nAccessExclusiveLock on public\.users\nwait: [^\n]+\nhold: ([0-9.]+ m?s)\n};
my $capped_ms = !defined $capped_hold ? -1
  : $capped_hold =~ /^([0-9.]+) ms$/ ? $1 : $capped_hold =~ /^([0-9.]+) s$/ ? $1 * 1000 : -1;
ok($capped_ms >= 500 && $capped_ms < 1500, 'the capped lock was held about 500ms')
  or diag('hold: ' . ($capped_hold // 'no bar for the capped ALTER'));
like($svg, qr/class="marker blocked"/, 'the blocked statement is marked');
like($svg, qr{<g class="marker capped"><title>lock held too long[^<]*longer than guarded_ddl\.max_lock_hold \(500ms\)[^<]*statement cancelled: SELECT pg_sleep\(2\)},
    'the capped transaction is marked, with the cancelled statement');
like($svg,
    qr{<g class="bar"><title>ALTER TABLE orders ADD COLUMN waited int\nrole: migrator\nAccessExclusiveLock on public\.orders\nwait: [^\n]+ \(never granted\)\nverdict: failed\n[^<]*</title><rect class="wait"[^>]*/><path class="marker failed"},
    'the failed ALTER is a wait never granted, marked failed');
like($svg, qr{ALTER TABLE orders ADD COLUMN &quot;&lt;b&gt;&amp;&quot;&quot;&apos;&quot; text},
    'markup and quotes in a statement are escaped');
unlike($svg, qr/<b>/, 'no raw markup from a statement');
unlike($svg, qr/<script/i, 'no script');
unlike($svg, qr/href/i, 'no links');
unlike($svg, qr/\son[a-z]+\s*=/i, 'no event handler attributes');
like($svg, qr/>AccessExclusiveLock<\/text>/, 'the legend names the mode');
cmp_ok($count->(qr/class="tick"/), '>=', 3, 'a time axis with ticks');

# Anyone else gets PostgreSQL's permission error; a reversed window is 22023.
($ret, my $out, $err) = $node->psql('postgres',
    "SELECT guarded_ddl.lock_timeline('$since')",
    extra_params => [ '-U', 'outsider' ]);
like($err, qr/permission denied for table ddl_log/, 'without SELECT on the log: permission denied');
($ret, $out, $err) = $node->psql('postgres',
    "\\set VERBOSITY verbose\nSELECT guarded_ddl.lock_timeline('$until', '$since')");
like($err, qr/ERROR:  22023: guarded_ddl\.lock_timeline: since must not be later than until/,
    'since after until is 22023');

# An empty window is still a document, and says so.
my $empty = $node->safe_psql('postgres',
    "SELECT guarded_ddl.lock_timeline('2001-01-01', '2001-01-02')");
like($empty, qr/Nothing to show/, 'an empty window says there is nothing to show');
unlike($empty, qr/<g class="lane">/, 'and has no lanes');

# Rendered by a browser: not blank, the bars' and markers' colours there.
my $chromium = `command -v chromium 2>/dev/null`;
chomp $chromium;
ok($chromium ne '', 'chromium is installed') or diag('test/lib.sh installs the chromium package');
my $png = "$tmp/timeline.png";
mkdir "$tmp/home";
my ($c_out, $c_err) = ('', '');
{
    local %ENV = (%ENV, HOME => "$tmp/home", XDG_CONFIG_HOME => "$tmp/home",
        XDG_CACHE_HOME => "$tmp/home");
    eval {
        IPC::Run::run(
            [ $chromium || 'chromium', '--headless', '--no-sandbox', '--disable-gpu',
              '--no-first-run', '--hide-scrollbars', "--user-data-dir=$tmp/home/chromium",
              "--screenshot=$png", '--window-size=1200,400', "file://$svg_file" ],
            '<', \undef, '>', \$c_out, '2>', \$c_err, IPC::Run::timeout(180));
    };
    $c_err .= $@ if $@;
}
ok(-s $png, 'chromium rendered the timeline') or diag($c_err);
my $colours = -s $png ? png_colours($png) : {};
cmp_ok(scalar(keys %$colours), '>', 20, 'the picture is not blank: many colours');
ok($colours->{'106,61,154'}, 'AccessExclusiveLock bars are drawn (#6a3d9a)');
ok($colours->{'214,39,40'}, 'the red markers are drawn (#d62728)');

# Only the newest rows are drawn, and the document says so.
my $since_many = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
$node->safe_psql('postgres', 'CREATE TABLE small (a int)');
# Each statement its own transaction, so each takes (and logs) its lock.
my $many_sql = '';
for my $i (1 .. 2050)
{
    $many_sql .= "ALTER TABLE small ALTER COLUMN a SET STATISTICS " . ($i % 1000) . ";\n";
    $many_sql .= "SELECT guarded_ddl.flush();\n" if $i % 100 == 0;
}
$node->safe_psql('postgres', $many_sql . "SELECT guarded_ddl.flush();\n");
my $many = $node->safe_psql('postgres', "SELECT guarded_ddl.lock_timeline('$since_many')");
my $small_rows = $node->safe_psql('postgres', qq{
SELECT count(*) FROM guarded_ddl.lock_log l JOIN guarded_ddl.ddl_log d ON d.id = l.ddl_id
 WHERE d.started_at >= '$since_many'});
cmp_ok($small_rows, '>', 2000, 'more than 2000 lock rows in the second window');
my @many_bars = ($many =~ /<g class="bar[ "]/g);
is(scalar @many_bars, 2000, 'at most 2000 bars');
my $left_out = $small_rows - 2000;
like($many, qr/Rows left out: $left_out older lock rows? beyond the 2000 newest/,
    'the document says how many rows were left out');

done_testing();

# Distinct colours ("r,g,b") of an 8-bit RGB or RGBA non-interlaced PNG.
sub png_colours
{
    my ($file) = @_;
    open my $in, '<:raw', $file or die "$file: $!";
    my $data = do { local $/; <$in> };
    close $in;
    die "$file is not a PNG" unless substr($data, 0, 8) eq "\x89PNG\r\n\x1a\n";
    my ($w, $h, $depth, $type, $interlace, $idat) = (0, 0, 0, 0, 0, '');
    for (my $pos = 8; $pos + 8 <= length $data;)
    {
        my ($len, $chunk) = unpack('N a4', substr($data, $pos, 8));
        my $body = substr($data, $pos + 8, $len);
        $pos += 12 + $len;
        ($w, $h, $depth, $type, undef, undef, $interlace) = unpack('N N C C C C C', $body)
          if $chunk eq 'IHDR';
        $idat .= $body if $chunk eq 'IDAT';
        last if $chunk eq 'IEND';
    }
    die "unexpected PNG format (depth $depth, type $type, interlace $interlace)"
      unless $depth == 8 && ($type == 2 || $type == 6) && !$interlace;
    my $bpp = $type == 6 ? 4 : 3;
    my $raw = Compress::Zlib::uncompress($idat);
    die "$file: bad image data" unless defined $raw;
    my $stride = $w * $bpp;
    my @prev = (0) x $stride;
    my %colours;
    for my $y (0 .. $h - 1)
    {
        my $off = $y * ($stride + 1);
        my $filter = ord(substr($raw, $off, 1));
        my @cur = unpack('C*', substr($raw, $off + 1, $stride));
        if ($filter != 0)
        {
            for my $i (0 .. $stride - 1)
            {
                my $a = $i >= $bpp ? $cur[ $i - $bpp ] : 0;
                my $b = $prev[$i];
                my $c = $i >= $bpp ? $prev[ $i - $bpp ] : 0;
                my $p;
                if ($filter == 1) { $p = $a }
                elsif ($filter == 2) { $p = $b }
                elsif ($filter == 3) { $p = ($a + $b) >> 1 }
                else
                {
                    my $e = $a + $b - $c;
                    my ($pa, $pb, $pc) = (abs($e - $a), abs($e - $b), abs($e - $c));
                    $p = ($pa <= $pb && $pa <= $pc) ? $a : ($pb <= $pc ? $b : $c);
                }
                $cur[$i] = ($cur[$i] + $p) & 0xff;
            }
        }
        for (my $i = 0; $i < $stride; $i += $bpp)
        {
            $colours{"$cur[$i],$cur[$i+1],$cur[$i+2]"} = 1;
        }
        @prev = @cur;
    }
    return \%colours;
}
