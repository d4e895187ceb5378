# PGXS build of guarded_ddl: `make && make install` with postgresql-server-dev-15.
# Out-of-tree (VPATH) builds work too, as Debian's pg_buildext runs them:
#   mkdir build-15 && make -C build-15 -f $PWD/Makefile VPATH=$PWD PG_CONFIG=...
EXTENSION = guarded_ddl
MODULE_big = guarded_ddl

# The source tree is this Makefile's directory, not the current one: paths
# below are relative to it, and VPATH finds the sources there.
GD_SRC := $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST))))
DATA = $(patsubst $(GD_SRC)/%,%,$(wildcard $(GD_SRC)/extension/guarded_ddl--*.sql))
OBJS = $(patsubst $(GD_SRC)/%.cpp,%.o,$(sort $(wildcard $(GD_SRC)/src/core/*.cpp $(GD_SRC)/src/pg/*.cpp)))

GD_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(GD_SRC)/guarded_ddl.control)
PG_CPPFLAGS = -I$(GD_SRC)/src -DGD_VERSION='"$(GD_VERSION)"'
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

# GD_VERSION comes from the control file: a new version rebuilds the object
# that reports it.
src/pg/version.o: $(GD_SRC)/guarded_ddl.control

# The logic zone's header guard (src/core/no_postgres.hpp) keys on this.
src/core/%.o: CPPFLAGS += -DGD_LOGIC_ZONE

# In a VPATH build the objects' directories do not exist yet (a phony
# target: make would find src/core through VPATH in the source tree).
$(OBJS): | gd-objdirs
gd-objdirs:
	@mkdir -p $(sort $(dir $(OBJS)))
.PHONY: gd-objdirs

# The PGXN release archive, from the committed tree (git archive: nothing
# untracked or uncommitted goes in), written to the current directory.
# PGXN versions are SemVer: default_version 1.0 is released as 1.0.0
# (META.json's version; test/package.sh checks they agree).
GD_SEMVER := $(shell echo '$(GD_VERSION)' | awk -F. '{ print ($$1 + 0) "." ($$2 + 0) "." ($$3 + 0) }')
GD_DIST = $(EXTENSION)-$(GD_SEMVER).zip
dist:
	@git -C $(GD_SRC) rev-parse --git-dir >/dev/null 2>&1 || { echo "make dist: $(GD_SRC) is not a git checkout" >&2; exit 1; }
	@git -C $(GD_SRC) diff --quiet HEAD -- || echo "make dist: note: uncommitted changes are not in the archive (it is HEAD)" >&2
	git -C $(GD_SRC) archive --format zip --prefix $(EXTENSION)-$(GD_SEMVER)/ -o $(abspath $(GD_DIST)) HEAD
.PHONY: dist

show-regress:
	@echo $(REGRESS)
.PHONY: show-regress
