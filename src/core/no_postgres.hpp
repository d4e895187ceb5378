// The logic zone must stay free of PostgreSQL headers: it is unit-tested
// without a server, and nothing in it may ereport (a longjmp through C++
// frames would skip destructors). Every logic-zone header includes this one.
#pragma once

#ifdef POSTGRES_H
static_assert(false, "guarded_ddl logic zone: PostgreSQL headers must not be included here");
#endif
