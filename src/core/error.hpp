// Errors raised inside the logic zone. They carry what ereport needs so the
// boundary (src/pg/cpp_boundary.hpp) can turn them into an ordinary ERROR with
// the right SQLSTATE, DETAIL and HINT.
#pragma once

#include "core/no_postgres.hpp"

#include <stdexcept>
#include <string>

namespace guarded_ddl {

// Five-character SQLSTATE codes used by the logic zone. Kept as text so the
// logic zone does not need PostgreSQL's errcodes.h.
namespace sqlstate {
inline constexpr const char *invalid_parameter_value = "22023";
inline constexpr const char *program_limit_exceeded = "54000";
inline constexpr const char *undefined_object = "42704";
inline constexpr const char *internal_error = "XX000";
} // namespace sqlstate

class Error : public std::runtime_error {
  public:
    Error(const char *sqlstate, const std::string &message, std::string detail = {},
          std::string hint = {})
        : std::runtime_error(message), sqlstate_(sqlstate), detail_(std::move(detail)),
          hint_(std::move(hint)) {}

    const char *sqlstate() const noexcept { return sqlstate_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

  private:
    const char *sqlstate_;
    std::string detail_;
    std::string hint_;
};

} // namespace guarded_ddl
