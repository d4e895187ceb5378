#include "core/type_narrowing.hpp"

#include <gtest/gtest.h>

namespace guarded_ddl {
namespace {

using K = TypeKind;

constexpr int32_t varhdrsz = 4;

ColumnType t(K kind, int32_t typmod = -1) {
    return {kind, typmod};
}
ColumnType numeric(int precision, int scale) {
    return {K::Numeric, encode_numeric_typmod(precision, scale)};
}
ColumnType varchar(int n) {
    return {K::Varchar, n + varhdrsz};
}
ColumnType bpchar(int n) {
    return {K::Bpchar, n + varhdrsz};
}

Narrowing n(ColumnType from, ColumnType to) {
    return type_change_narrowing(from, to);
}

// The typmods PostgreSQL 15 stores, decoded as numeric_typmod_precision()
// and numeric_typmod_scale() do: 655366 is numeric(10,2) in pg_attribute.
TEST(TypeNarrowing, NumericTypmodDecoding) {
    auto d = decode_numeric_typmod(655366);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->precision, 10);
    EXPECT_EQ(d->scale, 2);
    d = decode_numeric_typmod(524294); // numeric(8,2)
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->precision, 8);
    EXPECT_EQ(d->scale, 2);
    // Negative scale (PostgreSQL 15): numeric(2,-3), stored as 133121.
    d = decode_numeric_typmod(133121);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->precision, 2);
    EXPECT_EQ(d->scale, -3);
    EXPECT_EQ(encode_numeric_typmod(2, -3), 133121);
    EXPECT_EQ(encode_numeric_typmod(10, 2), 655366);
    EXPECT_FALSE(decode_numeric_typmod(-1).has_value());
    EXPECT_FALSE(decode_numeric_typmod(3).has_value());
}

TEST(TypeNarrowing, IssueExamples) {
    EXPECT_EQ(n(numeric(10, 2), numeric(8, 2)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Int8), t(K::Int4)), Narrowing::Lossy);
    EXPECT_EQ(n(varchar(100), varchar(50)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Timestamptz), t(K::Timestamptz, 3)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Timestamp, 6), t(K::Timestamp, 0)), Narrowing::Lossy);
}

TEST(TypeNarrowing, Integers) {
    EXPECT_EQ(n(t(K::Int8), t(K::Int2)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Int4), t(K::Int2)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Int2), t(K::Int4)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int4), t(K::Int8)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int4), t(K::Int4)), Narrowing::None);
    // Fractions are rounded away; only a numeric without fraction and with
    // fewer digits than the widest value always fits.
    EXPECT_EQ(n(t(K::Float8), t(K::Int8)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Float4), t(K::Int4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Numeric), t(K::Int8)), Narrowing::Lossy);
    EXPECT_EQ(n(numeric(10, 2), t(K::Int8)), Narrowing::Lossy);
    EXPECT_EQ(n(numeric(9, 0), t(K::Int4)), Narrowing::None);
    EXPECT_EQ(n(numeric(10, 0), t(K::Int4)), Narrowing::Lossy);
    EXPECT_EQ(n(numeric(4, 0), t(K::Int2)), Narrowing::None);
    EXPECT_EQ(n(numeric(2, -3), t(K::Int4)), Narrowing::None);
}

TEST(TypeNarrowing, Numeric) {
    EXPECT_EQ(n(numeric(8, 2), numeric(10, 2)), Narrowing::None);
    EXPECT_EQ(n(numeric(10, 2), numeric(10, 1)), Narrowing::Lossy); // scale down
    EXPECT_EQ(n(numeric(10, 2), numeric(11, 3)), Narrowing::None);
    EXPECT_EQ(n(numeric(10, 2), numeric(10, 3)), Narrowing::Lossy); // integer digits down
    EXPECT_EQ(n(t(K::Numeric), numeric(38, 10)), Narrowing::Lossy); // unconstrained to constrained
    EXPECT_EQ(n(numeric(10, 2), t(K::Numeric)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int4), numeric(10, 0)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int4), numeric(9, 0)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Int8), numeric(21, 2)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int2), numeric(6, -1)), Narrowing::Lossy); // rounded to tens
    EXPECT_EQ(n(t(K::Int8), t(K::Numeric)), Narrowing::None);
    // PostgreSQL keeps 15 (6) significant digits of a float.
    EXPECT_EQ(n(t(K::Float8), t(K::Numeric)), Narrowing::Lossy);
}

TEST(TypeNarrowing, Floats) {
    EXPECT_EQ(n(t(K::Float8), t(K::Float4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Float4), t(K::Float8)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int2), t(K::Float4)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int4), t(K::Float4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Int4), t(K::Float8)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int8), t(K::Float8)), Narrowing::Lossy);
    EXPECT_EQ(n(numeric(15, 2), t(K::Float8)), Narrowing::None);
    EXPECT_EQ(n(numeric(16, 2), t(K::Float8)), Narrowing::Lossy);
    EXPECT_EQ(n(numeric(7, 2), t(K::Float4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Numeric), t(K::Float8)), Narrowing::Lossy);
}

TEST(TypeNarrowing, Characters) {
    EXPECT_EQ(n(varchar(50), varchar(100)), Narrowing::None);
    EXPECT_EQ(n(varchar(50), t(K::Text)), Narrowing::None);
    EXPECT_EQ(n(varchar(50), t(K::Varchar)), Narrowing::None);
    EXPECT_EQ(n(t(K::Text), varchar(50)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Varchar), varchar(50)), Narrowing::Lossy);
    EXPECT_EQ(n(bpchar(10), bpchar(5)), Narrowing::Lossy);
    EXPECT_EQ(n(bpchar(5), bpchar(10)), Narrowing::None);
    EXPECT_EQ(n(bpchar(10), varchar(10)), Narrowing::None);
    EXPECT_EQ(n(bpchar(10), varchar(9)), Narrowing::Lossy);
    EXPECT_EQ(n(bpchar(10), t(K::Text)), Narrowing::None);
    // character(n) ignores trailing spaces, which text keeps.
    EXPECT_EQ(n(varchar(10), bpchar(10)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Text), bpchar(100)), Narrowing::Lossy);
    // A known type's text form keeps its value; a length limit may not.
    EXPECT_EQ(n(t(K::Int8), t(K::Text)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timestamptz), t(K::Varchar)), Narrowing::None);
    EXPECT_EQ(n(t(K::Int8), varchar(5)), Narrowing::Unknown);
    EXPECT_EQ(n(t(K::Text), t(K::Int4)), Narrowing::Unknown);
}

TEST(TypeNarrowing, Bits) {
    EXPECT_EQ(n(t(K::Bit, 8), t(K::Bit, 4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Bit, 4), t(K::Bit, 8)), Narrowing::Lossy); // padded: a different value
    EXPECT_EQ(n(t(K::Varbit, 8), t(K::Varbit, 4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Varbit), t(K::Varbit, 4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Varbit, 4), t(K::Varbit, 8)), Narrowing::None);
    EXPECT_EQ(n(t(K::Bit, 4), t(K::Varbit)), Narrowing::None);
    EXPECT_EQ(n(t(K::Bit, 8), t(K::Varbit, 4)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Varbit, 4), t(K::Bit, 4)), Narrowing::Lossy);
}

TEST(TypeNarrowing, DatesAndTimes) {
    EXPECT_EQ(n(t(K::Timestamp, 3), t(K::Timestamp, 6)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timestamp, 6), t(K::Timestamp)), Narrowing::None); // -1 is 6
    EXPECT_EQ(n(t(K::Timestamp), t(K::Timestamp, 6)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timestamp), t(K::Timestamp, 5)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Timestamp), t(K::Timestamptz)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timestamptz, 6), t(K::Timestamp, 2)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Timestamptz), t(K::Date)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Timestamp), t(K::Date)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Date), t(K::Timestamp)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timestamp), t(K::Time)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Time), t(K::Time, 0)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Time, 0), t(K::Time, 3)), Narrowing::None);
    EXPECT_EQ(n(t(K::Timetz), t(K::Time)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Time), t(K::Timetz)), Narrowing::None);
    EXPECT_EQ(n(t(K::Time), t(K::Interval)), Narrowing::None);
}

// interval's typmod: (range << 16) | precision, 0x7FFF and 0xFFFF for all.
TEST(TypeNarrowing, Interval) {
    const int32_t full = (0x7FFF << 16) | 0xFFFF;
    const int32_t full_p0 = 0x7FFF << 16;
    const int32_t year_to_month = ((1 << 2) | (1 << 1)) << 16 | 0xFFFF;
    EXPECT_EQ(n(t(K::Interval), t(K::Interval, full)), Narrowing::None);
    EXPECT_EQ(n(t(K::Interval), t(K::Interval, full_p0)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Interval, full_p0), t(K::Interval)), Narrowing::None);
    EXPECT_EQ(n(t(K::Interval), t(K::Interval, year_to_month)), Narrowing::Lossy);
    EXPECT_EQ(n(t(K::Interval, year_to_month), t(K::Interval)), Narrowing::None);
}

TEST(TypeNarrowing, UnknownTypesAreUnknown) {
    EXPECT_EQ(n(t(K::Other), t(K::Int4)), Narrowing::Unknown);
    EXPECT_EQ(n(t(K::Int4), t(K::Other)), Narrowing::Unknown);
    EXPECT_EQ(n(t(K::Other, 7), t(K::Other, 7)), Narrowing::Unknown);
    EXPECT_EQ(n(t(K::Date), t(K::Int4)), Narrowing::Unknown);
}

} // namespace
} // namespace guarded_ddl
