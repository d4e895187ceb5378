// What the audit writer makes of queued records: rows of ddl_log and
// lock_log, inserted through the table access method as INSERT would
// insert them (pg/table_writer.hpp), and the hold times a LocksReleased
// record gives, filled into the lock rows it names.
#pragma once

#include "pg/prelude.hpp"

// Writes the records in the queue slots given into the two tables, which
// the caller has locked and found to be the extension's. fleet_rows: the
// tables have the system_identifier column (1.1 on). Raises an ERROR when
// a row is refused (a constraint, a unique key, a column of another type).
void gd_audit_write_rows(const int *slots, int n, Oid ddl_log, Oid lock_log, bool fleet_rows);
