// Whether an ALTER COLUMN ... TYPE can lose values: the well-known
// narrowings of PostgreSQL's built-in types, decided from the type and its
// typmod alone (the PG zone maps type OIDs to TypeKind), never by running a
// cast.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>

namespace guarded_ddl {

enum class TypeKind {
    Other, // any type not listed: nothing is known about its casts
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
    Text,
    Varchar,
    Bpchar, // character(n)
    Bit,
    Varbit,
    Timestamp,
    Timestamptz,
    Date,
    Time,
    Timetz,
    Interval,
};

// A column's type as the catalogs hold it: -1 is "no typmod".
struct ColumnType {
    TypeKind kind = TypeKind::Other;
    int32_t typmod = -1;
};

enum class Narrowing {
    None,    // every value of the old type is kept as it is
    Lossy,   // some values are rounded, cut or no longer fit
    Unknown, // a conversion this table does not know
};

Narrowing type_change_narrowing(ColumnType from, ColumnType to) noexcept;

// numeric(precision, scale) from its typmod (PostgreSQL 15 encodes a scale
// from -1000 to 1000 in 11 bits); nullopt for unconstrained numeric.
struct NumericTypmod {
    int precision;
    int scale;
};
std::optional<NumericTypmod> decode_numeric_typmod(int32_t typmod) noexcept;
int32_t encode_numeric_typmod(int precision, int scale) noexcept;

} // namespace guarded_ddl
