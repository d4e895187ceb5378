# PGXS build of guarded_ddl: `make && make install` with postgresql-server-dev-15.
EXTENSION = guarded_ddl
MODULE_big = guarded_ddl
DATA = $(wildcard extension/guarded_ddl--*.sql)
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard src/core/*.cpp src/pg/*.cpp)))

GD_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" guarded_ddl.control)
PG_CPPFLAGS = -Isrc -DGD_VERSION='"$(GD_VERSION)"'
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-missing-field-initializers
# PostgreSQL's headers as system headers: their inline functions and macros
# trip C++ warnings (unused parameters, function casts) that are not ours.
PG_CPPFLAGS += -isystem $(shell $(PG_CONFIG) --includedir-server)
SHLIB_LINK = -lfmt -lstdc++

# pg_regress suites (sql/, expected/); test/run.sh runs them on a throwaway instance.
REGRESS = install guc lock_guard rules explain explain_text rollback preconditions policy policy_roles audit hardening observed_effects size_profile transaction_guard apply backfill

# Debian's PGXS would also emit LLVM bitcode for every object with clang-14;
# guarded_ddl's C++ is not meant for the JIT inliner.
override with_llvm = no

# Rebuild objects when a header they include changes (PGXS tracks this only
# on request; a stale object with an old struct layout is a silent bug).
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The logic zone's header guard (src/core/no_postgres.hpp) keys on this.
src/core/%.o: CPPFLAGS += -DGD_LOGIC_ZONE

show-regress:
	@echo $(REGRESS)
.PHONY: show-regress
