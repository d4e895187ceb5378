// The logic zone must stay free of PostgreSQL headers: it is unit-tested
// without a server, and nothing in it may ereport (a longjmp through C++
// frames would skip destructors). Every logic-zone header includes this one.
//
// Both builds compile src/core with GD_LOGIC_ZONE defined; CMake also builds
// it without PostgreSQL's include path, so a stray include fails outright.
// PG-zone files may include logic-zone headers freely.
#pragma once

#if defined(GD_LOGIC_ZONE) && defined(POSTGRES_H)
static_assert(false, "guarded_ddl logic zone: PostgreSQL headers must not be included here");
#endif
