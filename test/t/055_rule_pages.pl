# Issue 14, a page per rule: docs/rules/<rule id>.md. Every id that
# guarded_ddl.rules() returns has its page and every page is a rule id (both
# directions, naming the missing ones). Each page's example is run against
# a real server, in a database of its own: the page's ```sql setup block
# (must run without any error or message), then its ```sql example block,
# and what psql writes to stderr for the example must be exactly the page's
# ```text output block, which must show the page's own rule firing.
#
# Normalisation: psql reading a file prefixes each message's first line with
# "psql:FILE:LINE: "; an interactive psql does not, so the prefix is removed
# before comparing. Nothing else is normalised: the examples use empty
# tables, whose sizes (8192 bytes per index or TOAST index) and row counts
# (none shown) do not vary, and no OIDs.
use strict;
use warnings;
use FindBin qw($RealBin);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = "$RealBin/../../docs/rules";
ok(-d $dir, "docs/rules exists ($dir)") or BAIL_OUT('no docs/rules');

my $node = PostgreSQL::Test::Cluster->new('rule_pages');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'guarded_ddl'
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION guarded_ddl');
# Each page's database is a copy of this one: the extension installed, nothing else.
$node->safe_psql('postgres', 'CREATE DATABASE rule_template');
$node->safe_psql('rule_template', 'CREATE EXTENSION guarded_ddl');

# The ids both ways.
my @ids = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM guarded_ddl.rules() ORDER BY id');
opendir(my $dh, $dir) or die "opendir $dir: $!";
my @files = sort grep { -f "$dir/$_" } readdir $dh;
closedir $dh;
my @pages = map { /^(.*)\.md$/ ? $1 : () } @files;
my %is_page = map { $_ => 1 } @pages;
my %is_rule = map { $_ => 1 } @ids;
ok(@ids > 0, 'rules() returns rules');
my @no_page = grep { !$is_page{$_} } @ids;
my @no_rule = grep { !$is_rule{$_} } @pages;
my @not_md  = grep { !/\.md$/ } @files;
is(join(', ', @no_page), '', 'every rule id has its page docs/rules/<id>.md');
is(join(', ', @no_rule), '', 'every page in docs/rules is a rule id');
is(join(', ', @not_md), '', 'docs/rules holds only the pages');

# The fenced blocks of a page whose info string is exactly $info.
sub blocks
{
    my ($text, $info) = @_;
    my @found;
    while ($text =~ /^```\Q$info\E[ \t]*\n(.*?)^```[ \t]*$/msg)
    {
        push @found, $1;
    }
    return @found;
}

my $tmp = PostgreSQL::Test::Utils::tempdir;

for my $id (grep { $is_rule{$_} } @pages)
{
    my $page = slurp_file("$dir/$id.md");
    my @setup   = blocks($page, 'sql setup');
    my @example = blocks($page, 'sql example');
    my @output  = blocks($page, 'text output');
    unless (is(scalar(@setup) . scalar(@example) . scalar(@output), '111',
        "$id: one setup, one example and one output block"))
    {
        next;
    }

    my $db = "rule_$id";
    $node->safe_psql('postgres', qq{CREATE DATABASE "$db" TEMPLATE rule_template});

    # The setup's results are not shown; any message from it fails the test.
    my $script = "$tmp/$id.sql";
    open(my $fh, '>', $script) or die "$script: $!";
    print $fh "\\set ON_ERROR_STOP 1\n\\o /dev/null\n$setup[0]\\o\n\\unset ON_ERROR_STOP\n"
      . "\\warn \@\@example\@\@\n$example[0]";
    close $fh;
    my ($out, $err) = ('', '');
    IPC::Run::run([ 'psql', '-X', '-q', '-d', $node->connstr($db), '-f', $script ],
        '<', \undef, '>', \$out, '2>', \$err);
    my ($before, $after) = split /^\@\@example\@\@\n/m, $err, 2;
    unless (is($before, '', "$id: the setup runs without a message") && defined $after)
    {
        diag($err);
        next;
    }
    $after =~ s/^psql:[^\n]*?:\d+: //mg;
    is($after, $output[0], "$id: the example prints exactly the page's output");
    is($out, '', "$id: the example prints nothing on stdout");
    like($output[0], qr/^(ERROR|WARNING):  guarded_ddl: rule \Q$id\E: /m,
        "$id: the output shows rule $id");
}

done_testing();
