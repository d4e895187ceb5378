#include "core/audit_text.hpp"

#include <gtest/gtest.h>

using namespace guarded_ddl;

TEST(RedactPasswords, RolePasswords) {
    EXPECT_EQ(redact_passwords("CREATE ROLE app LOGIN PASSWORD 's3cret'"),
              "CREATE ROLE app LOGIN PASSWORD '********'");
    EXPECT_EQ(
        redact_passwords("alter user app with encrypted password\n  'x''y' valid until 'infinity'"),
        "alter user app with encrypted password\n  '********' valid until 'infinity'");
    EXPECT_EQ(redact_passwords("ALTER ROLE app PASSWORD E'a\\'b' LOGIN"),
              "ALTER ROLE app PASSWORD '********' LOGIN");
    EXPECT_EQ(redact_passwords("ALTER ROLE app PASSWORD $pw$it's$pw$"),
              "ALTER ROLE app PASSWORD '********'");
    EXPECT_EQ(redact_passwords("ALTER ROLE app PASSWORD /* c */ 'x'"),
              "ALTER ROLE app PASSWORD /* c */ '********'");
}

TEST(RedactPasswords, UserMappingOptions) {
    EXPECT_EQ(
        redact_passwords("CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'a', password 'b')"),
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'a', password '********')");
}

TEST(RedactPasswords, LeavesOtherTextAlone) {
    for (const char *sql :
         {"ALTER ROLE app PASSWORD NULL", "COMMENT ON TABLE t IS 'password ''x'''",
          "ALTER TABLE t ADD COLUMN \"password\" text DEFAULT 'x'",
          "ALTER TABLE t RENAME mypassword TO password_hash", "-- password 'x'\nDROP TABLE t",
          "SELECT $$password 'x'$$"}) {
        EXPECT_EQ(redact_passwords(sql), sql) << sql;
    }
}

TEST(RedactPasswords, UnterminatedLiteralIsRedactedToTheEnd) {
    EXPECT_EQ(redact_passwords("ALTER ROLE a PASSWORD 'never closed"),
              "ALTER ROLE a PASSWORD '********'");
}

TEST(AuditStatementText, ShortTextIsKept) {
    EXPECT_EQ(audit_statement_text("DROP TABLE t", 100), "DROP TABLE t");
}

TEST(AuditStatementText, LongTextIsCutAtACharacterBoundaryWithAMarker) {
    std::string sql = "COMMENT ON TABLE t IS '" + std::string(300, 'x') + "\xC3\xA9" +
                      std::string(300, 'y') + "'";
    for (std::size_t max :
         {std::size_t{100}, std::size_t{326}, std::size_t{327}, std::size_t{328}}) {
        std::string text = audit_statement_text(sql, max);
        EXPECT_LT(text.size(), max);
        EXPECT_NE(text.find(" more bytes]"), std::string::npos);
        std::size_t cut = text.find(" ... [");
        ASSERT_NE(cut, std::string::npos);
        EXPECT_NE(static_cast<unsigned char>(text[cut - 1]), 0xC3) << max;
        std::string marker = " ... [" + std::to_string(sql.size() - cut) + " more bytes]";
        EXPECT_EQ(text.substr(cut), marker);
    }
}
