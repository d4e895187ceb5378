# What the apply TAP tests share: interrupting guarded_ddl.apply() while its
# background worker waits.
package GuardedDDLApply;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(cancel_apply_while_waiting);

# Starts CALL guarded_ddl.apply(sql) in a background session of node, waits
# until its worker waits as the SQL condition on pg_stat_activity says (for
# a lock, for an old snapshot), cancels the caller and returns the caller's
# stderr once apply has returned.
sub cancel_apply_while_waiting
{
    my ($node, $sql, $waiting) = @_;
    my $apply = $node->background_psql('postgres', on_error_stop => 0);
    my $pid = $apply->query_safe('SELECT pg_backend_pid()');
    $apply->{stdin} .= "CALL guarded_ddl.apply('$sql');\n\\echo apply_done\n";
    $apply->{run}->pump_nb;
    $node->poll_query_until('postgres', qq{
        SELECT count(*) = 1 FROM pg_stat_activity
         WHERE backend_type = 'guarded_ddl apply worker' AND $waiting})
      or die "the worker did not wait ($waiting): $sql";
    $node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
    $apply->{stdout} = '';
    $apply->query_until(qr/apply_done/, '');
    my $stderr = $apply->{stderr};
    $apply->quit;
    return $stderr;
}

1;
