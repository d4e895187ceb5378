// PostgreSQL's way to survive an error: run the code in an internal
// subtransaction (the PL/pgSQL exception-block pattern), so that a failure
// is rolled back with everything it held and the caller goes on.
#pragma once

#include "pg/prelude.hpp"

// Runs fn(arg) in an internal subtransaction. Returns nullptr when it
// completed (the subtransaction is released and its locks move to the
// caller's), or the error it raised, copied into the caller's memory context
// after the subtransaction was rolled back and the error state flushed.
// roll_back: the subtransaction is rolled back even when fn completes, so
// that the locks it took and anything it did are gone again (fn passes its
// results out through arg, in the caller's memory context).
ErrorData *gd_try_in_subtransaction(void (*fn)(void *), void *arg, bool roll_back = false);

// Errors that say something about the session or the server rather than
// about what was tried (out of memory, a cancel, a serialization failure):
// never swallowed by a caller that steps aside on an error.
bool gd_error_must_propagate(int sqlerrcode);
