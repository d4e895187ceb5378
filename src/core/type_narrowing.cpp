#include "core/type_narrowing.hpp"

#include <limits>

namespace guarded_ddl {

namespace {

constexpr int32_t varhdrsz = 4; // PostgreSQL's VARHDRSZ, part of some typmods
constexpr int unlimited = std::numeric_limits<int>::max();

bool is_integer(TypeKind k) {
    return k == TypeKind::Int2 || k == TypeKind::Int4 || k == TypeKind::Int8;
}
bool is_float(TypeKind k) {
    return k == TypeKind::Float4 || k == TypeKind::Float8;
}
bool is_character(TypeKind k) {
    return k == TypeKind::Text || k == TypeKind::Varchar || k == TypeKind::Bpchar;
}
bool is_timestamp(TypeKind k) {
    return k == TypeKind::Timestamp || k == TypeKind::Timestamptz;
}
bool is_time(TypeKind k) {
    return k == TypeKind::Time || k == TypeKind::Timetz;
}

// Decimal digits every value of an integer type may need.
int integer_digits(TypeKind k) {
    switch (k) {
    case TypeKind::Int2:
        return 5;
    case TypeKind::Int4:
        return 10;
    default:
        return 19;
    }
}

int integer_rank(TypeKind k) {
    return k == TypeKind::Int2 ? 1 : k == TypeKind::Int4 ? 2 : 3;
}

// Significant decimal digits a float keeps exactly (FLT_DIG, DBL_DIG), and
// the largest decimal exponent it holds.
int float_digits(TypeKind k) {
    return k == TypeKind::Float4 ? 6 : 15;
}
int float_exponent(TypeKind k) {
    return k == TypeKind::Float4 ? 37 : 307;
}

// Integer bits of the mantissa: wider integers are rounded.
int float_integer_bits(TypeKind k) {
    return k == TypeKind::Float4 ? 24 : 53;
}
int integer_bits(TypeKind k) {
    return k == TypeKind::Int2 ? 16 : k == TypeKind::Int4 ? 32 : 64;
}

Narrowing lossy_if(bool lossy) {
    return lossy ? Narrowing::Lossy : Narrowing::None;
}

// character varying(n), character(n): n + VARHDRSZ; -1 (and text) unlimited.
int character_length(ColumnType t) {
    if (t.kind == TypeKind::Text || t.typmod < varhdrsz)
        return unlimited;
    return t.typmod - varhdrsz;
}

// bit(n), bit varying(n): n itself; -1 unlimited.
int bit_length(ColumnType t) {
    return t.typmod < 0 ? unlimited : t.typmod;
}

// timestamp, time, their zoned kinds: 0 to 6 fractional digits, -1 for 6.
int time_precision(ColumnType t) {
    return t.typmod < 0 || t.typmod > 6 ? 6 : t.typmod;
}

// interval's typmod: the fields kept (range) in the high half, the
// fractional digits (precision) in the low half; all ones for "all".
constexpr int32_t interval_full_range = 0x7FFF;
constexpr int32_t interval_full_precision = 0xFFFF;
int32_t interval_range(ColumnType t) {
    return t.typmod < 0 ? interval_full_range : (t.typmod >> 16) & 0x7FFF;
}
int interval_precision(ColumnType t) {
    int32_t p = t.typmod < 0 ? interval_full_precision : t.typmod & 0xFFFF;
    return p == interval_full_precision || p > 6 ? 6 : p;
}

Narrowing to_integer(ColumnType from, ColumnType to) {
    if (is_integer(from.kind))
        return lossy_if(integer_rank(to.kind) < integer_rank(from.kind));
    if (from.kind == TypeKind::Numeric) {
        // Only a numeric with no fraction and fewer digits than the
        // integer's widest value always fits.
        auto n = decode_numeric_typmod(from.typmod);
        return lossy_if(!n || n->scale > 0 || n->precision - n->scale >= integer_digits(to.kind));
    }
    if (is_float(from.kind))
        return Narrowing::Lossy; // fractions are rounded away
    return Narrowing::Unknown;
}

Narrowing to_numeric(ColumnType from, ColumnType to) {
    auto target = decode_numeric_typmod(to.typmod);
    if (is_float(from.kind))
        return Narrowing::Lossy; // PostgreSQL keeps DBL_DIG (FLT_DIG) digits only
    if (is_integer(from.kind))
        return lossy_if(target && (target->scale < 0 ||
                                   target->precision - target->scale < integer_digits(from.kind)));
    if (from.kind == TypeKind::Numeric) {
        if (!target)
            return Narrowing::None;
        auto source = decode_numeric_typmod(from.typmod);
        return lossy_if(!source || target->scale < source->scale ||
                        target->precision - target->scale < source->precision - source->scale);
    }
    return Narrowing::Unknown;
}

Narrowing to_float(ColumnType from, ColumnType to) {
    if (is_float(from.kind))
        return lossy_if(from.kind == TypeKind::Float8 && to.kind == TypeKind::Float4);
    if (is_integer(from.kind))
        return lossy_if(integer_bits(from.kind) > float_integer_bits(to.kind));
    if (from.kind == TypeKind::Numeric) {
        auto n = decode_numeric_typmod(from.typmod);
        return lossy_if(!n || n->precision > float_digits(to.kind) ||
                        n->precision - n->scale > float_exponent(to.kind) ||
                        n->scale > float_exponent(to.kind));
    }
    return Narrowing::Unknown;
}

Narrowing to_character(ColumnType from, ColumnType to) {
    int limit = character_length(to);
    if (is_character(from.kind)) {
        // character(n) ignores trailing spaces: they do not survive the trip
        // from text or character varying.
        if (to.kind == TypeKind::Bpchar && from.kind != TypeKind::Bpchar)
            return Narrowing::Lossy;
        return lossy_if(character_length(from) > limit);
    }
    // Every known type's text form keeps its value; a length limit may cut it.
    if (from.kind != TypeKind::Other && limit == unlimited && to.kind != TypeKind::Bpchar)
        return Narrowing::None;
    return Narrowing::Unknown;
}

Narrowing to_bit(ColumnType from, ColumnType to) {
    if (from.kind != TypeKind::Bit && from.kind != TypeKind::Varbit)
        return Narrowing::Unknown;
    if (to.kind == TypeKind::Bit) // fixed length: any other length is cut or padded
        return lossy_if(from.kind != TypeKind::Bit || bit_length(from) != bit_length(to));
    return lossy_if(bit_length(from) > bit_length(to));
}

Narrowing to_timestamp(ColumnType from, ColumnType to) {
    if (is_timestamp(from.kind))
        return lossy_if(time_precision(to) < time_precision(from));
    if (from.kind == TypeKind::Date)
        return Narrowing::None;
    return Narrowing::Unknown;
}

Narrowing to_time(ColumnType from, ColumnType to) {
    if (is_timestamp(from.kind))
        return Narrowing::Lossy; // the date is dropped
    if (is_time(from.kind))
        return lossy_if(time_precision(to) < time_precision(from) ||
                        (from.kind == TypeKind::Timetz && to.kind == TypeKind::Time));
    return Narrowing::Unknown;
}

Narrowing to_interval(ColumnType from, ColumnType to) {
    if (from.kind == TypeKind::Time)
        return lossy_if(interval_precision(to) < time_precision(from) ||
                        interval_range(to) != interval_full_range);
    if (from.kind != TypeKind::Interval)
        return Narrowing::Unknown;
    // A restricted field range zeroes the fields outside it.
    return lossy_if(
        interval_precision(to) < interval_precision(from) ||
        (interval_range(to) != interval_full_range && interval_range(to) != interval_range(from)));
}

} // namespace

std::optional<NumericTypmod> decode_numeric_typmod(int32_t typmod) noexcept {
    if (typmod < varhdrsz)
        return std::nullopt;
    int32_t bits = typmod - varhdrsz;
    return NumericTypmod{(bits >> 16) & 0xFFFF, ((bits & 0x7FF) ^ 1024) - 1024};
}

int32_t encode_numeric_typmod(int precision, int scale) noexcept {
    return ((precision << 16) | (scale & 0x7FF)) + varhdrsz;
}

Narrowing type_change_narrowing(ColumnType from, ColumnType to) noexcept {
    if (from.kind == TypeKind::Other || to.kind == TypeKind::Other)
        return Narrowing::Unknown;
    if (from.kind == to.kind && from.typmod == to.typmod)
        return Narrowing::None;
    switch (to.kind) {
    case TypeKind::Int2:
    case TypeKind::Int4:
    case TypeKind::Int8:
        return to_integer(from, to);
    case TypeKind::Numeric:
        return to_numeric(from, to);
    case TypeKind::Float4:
    case TypeKind::Float8:
        return to_float(from, to);
    case TypeKind::Text:
    case TypeKind::Varchar:
    case TypeKind::Bpchar:
        return to_character(from, to);
    case TypeKind::Bit:
    case TypeKind::Varbit:
        return to_bit(from, to);
    case TypeKind::Timestamp:
    case TypeKind::Timestamptz:
        return to_timestamp(from, to);
    case TypeKind::Date:
        return is_timestamp(from.kind) ? Narrowing::Lossy : Narrowing::Unknown;
    case TypeKind::Time:
    case TypeKind::Timetz:
        return to_time(from, to);
    case TypeKind::Interval:
        return to_interval(from, to);
    case TypeKind::Other:
        break;
    }
    return Narrowing::Unknown;
}

} // namespace guarded_ddl
