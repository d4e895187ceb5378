// The two crossings between PostgreSQL frames and C++ frames.
//
// invoke_cpp(f): PostgreSQL calls into C++. Every exception is caught, turned
//   into fixed-size text, the catch scope is left (so exception objects and
//   the unwound frames are gone), and only then is ereport called. A
//   PostgreSQL error that pg_call turned into PgError is re-raised as it was,
//   SQLSTATE, DETAIL, HINT and context intact.
//
// pg_call(f): C++ calls a PostgreSQL function that may ereport. The longjmp is
//   caught right here, in a frame with nothing to destroy, and continues as a
//   C++ exception so the C++ frames above unwind normally. f must be a thin
//   call into PostgreSQL: it must not itself own C++ objects with destructors.
#pragma once

#include "pg/prelude.hpp"

#include "core/exception_report.hpp"

#include <exception>
#include <type_traits>
#include <utility>

namespace guarded_ddl::pg {

class PgError final : public std::exception {
  public:
    explicit PgError(ErrorData *edata) noexcept : edata_(edata) {}
    ErrorData *edata() const noexcept { return edata_; }
    int sqlerrcode() const noexcept { return edata_->sqlerrcode; }
    const char *what() const noexcept override { return edata_->message; }

  private:
    ErrorData *edata_;
};

[[noreturn]] void throw_pg_error(MemoryContext caller_context);
[[noreturn]] void report_exception(const ExceptionReport &report);

// Runs fn(arg) under PG_TRY. Returns false, with PostgreSQL's error state
// still set, when fn raised an ERROR. Out of line so that no caller's locals
// live in the frame that sigsetjmp returns to twice.
bool run_catching_pg_error(void (*fn)(void *), void *arg);

template <typename F> decltype(auto) pg_call(F &&f) {
    using Result = std::invoke_result_t<F>;
    static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                  "pg_call returns PostgreSQL values, not C++ objects");
    struct Call {
        F *f;
        std::conditional_t<std::is_void_v<Result>, char, Result> result;
        std::exception_ptr escaped; // f must not throw; if it does, do not lose it
    } call{&f, {}, nullptr};
    MemoryContext caller_context = CurrentMemoryContext;

    bool ok = run_catching_pg_error(
        [](void *arg) {
            auto *c = static_cast<Call *>(arg);
            try {
                if constexpr (std::is_void_v<Result>)
                    (*c->f)();
                else
                    c->result = (*c->f)();
            } catch (...) {
                c->escaped = std::current_exception();
            }
        },
        &call);
    if (!ok)
        throw_pg_error(caller_context);
    if (call.escaped)
        std::rethrow_exception(call.escaped);
    if constexpr (!std::is_void_v<Result>)
        return call.result;
}

template <typename F> decltype(auto) invoke_cpp(F &&f) {
    ErrorData *pg_error = nullptr;
    ExceptionReport report;
    try {
        return f();
    } catch (const PgError &e) {
        pg_error = e.edata();
    } catch (...) {
        describe_current_exception(report);
    }
    if (pg_error)
        ReThrowError(pg_error);
    report_exception(report);
}

} // namespace guarded_ddl::pg
