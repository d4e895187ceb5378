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

TEST(RedactPasswords, QuotedOptionNameAndContinuedOrUnicodeLiterals) {
    EXPECT_EQ(
        redact_passwords("ALTER USER MAPPING FOR app SERVER s OPTIONS (SET \"password\" 'b')"),
        "ALTER USER MAPPING FOR app SERVER s OPTIONS (SET \"password\" '********')");
    EXPECT_EQ(redact_passwords("CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (password 'p')"),
              "CREATE SERVER s FOREIGN DATA WRAPPER w OPTIONS (password '********')");
    // 'sec'<newline>'ret' is one literal to PostgreSQL.
    EXPECT_EQ(redact_passwords("ALTER ROLE a PASSWORD 'sec'\n  'ret' LOGIN"),
              "ALTER ROLE a PASSWORD '********' LOGIN");
    EXPECT_EQ(redact_passwords("ALTER ROLE a PASSWORD 'sec' -- c\n'ret'"),
              "ALTER ROLE a PASSWORD '********'");
    EXPECT_EQ(redact_passwords("ALTER ROLE a PASSWORD U&'s\\0065cret' UESCAPE '\\'"),
              "ALTER ROLE a PASSWORD '********' UESCAPE '\\'");
}

TEST(RedactConninfo, KeywordValueForms) {
    EXPECT_EQ(redact_conninfo("host=h dbname=x password=secret user=u"),
              "host=h dbname=x password=******** user=u");
    EXPECT_EQ(redact_conninfo("password = 'se cret' host=h"), "password = ******** host=h");
    EXPECT_EQ(redact_conninfo("password='it\\'s' host=h"), "password=******** host=h");
    EXPECT_EQ(redact_conninfo("host=h password=a\\ b"), "host=h password=********");
    EXPECT_EQ(redact_conninfo("PASSWORD=x"), "PASSWORD=********");
    EXPECT_EQ(redact_conninfo("host=h password="), "host=h password=********");
    EXPECT_EQ(redact_conninfo("host=h"), "host=h");
    // A database name that is a connection string of its own.
    EXPECT_EQ(redact_conninfo("dbname='host=h password=p'"), "dbname='host=h password=********'");
}

TEST(RedactConninfo, UriForms) {
    EXPECT_EQ(redact_conninfo("postgresql://user:secret@host:5432/db"),
              "postgresql://user:********@host:5432/db");
    EXPECT_EQ(redact_conninfo("postgres://user@host/db?password=secret&sslmode=require"),
              "postgres://user@host/db?password=********&sslmode=require");
    EXPECT_EQ(redact_conninfo("postgresql://host/db?%70assword=secret"),
              "postgresql://host/db?%70assword=********");
    EXPECT_EQ(redact_conninfo("postgresql://host/a@b"), "postgresql://host/a@b");
}

TEST(RedactConninfo, NotAConnectionString) {
    EXPECT_EQ(redact_conninfo("password"), std::nullopt);
    EXPECT_EQ(redact_conninfo("host=h password='never closed"), std::nullopt);
}

TEST(RedactPasswords, SubscriptionConnections) {
    EXPECT_EQ(redact_passwords("CREATE SUBSCRIPTION s CONNECTION 'host=localhost dbname=x "
                               "password=secret' PUBLICATION p WITH (connect = false)"),
              "CREATE SUBSCRIPTION s CONNECTION 'host=localhost dbname=x password=********' "
              "PUBLICATION p WITH (connect = false)");
    // The connection string's own quotes, doubled inside the SQL literal.
    EXPECT_EQ(redact_passwords("ALTER SUBSCRIPTION s CONNECTION 'password = ''se cret'' host=h'"),
              "ALTER SUBSCRIPTION s CONNECTION 'password = ******** host=h'");
    EXPECT_EQ(redact_passwords("ALTER SUBSCRIPTION s CONNECTION 'password=''it\\''s'' host=h'"),
              "ALTER SUBSCRIPTION s CONNECTION 'password=******** host=h'");
    EXPECT_EQ(redact_passwords("alter subscription s connection "
                               "'postgresql://rep:secret@db.example/app?sslmode=require'"),
              "alter subscription s connection "
              "'postgresql://rep:********@db.example/app?sslmode=require'");
    EXPECT_EQ(redact_passwords("CREATE SUBSCRIPTION s CONNECTION $c$host=h password=x$c$ "
                               "PUBLICATION p"),
              "CREATE SUBSCRIPTION s CONNECTION 'host=h password=********' PUBLICATION p");
    EXPECT_EQ(
        redact_passwords("CREATE SUBSCRIPTION s CONNECTION E'host=h password=x' PUBLICATION p"),
        "CREATE SUBSCRIPTION s CONNECTION 'host=h password=********' PUBLICATION p");
    // Without a password the literal is kept as it was written.
    EXPECT_EQ(redact_passwords("ALTER SUBSCRIPTION s CONNECTION E'host=h port=5433'"),
              "ALTER SUBSCRIPTION s CONNECTION E'host=h port=5433'");
}

TEST(RedactPasswords, UndecodableConnectionsAreRedactedWhole) {
    for (const char *sql : {"ALTER SUBSCRIPTION s CONNECTION E'password=\\x73ecret'",
                            "ALTER SUBSCRIPTION s CONNECTION U&'password=\\0073ecret'",
                            "ALTER SUBSCRIPTION s CONNECTION 'host=h '\n'password=secret'",
                            "ALTER SUBSCRIPTION s CONNECTION 'password secret'",
                            "ALTER SUBSCRIPTION s CONNECTION 'host=h password=''secret'"}) {
        std::string text = redact_passwords(sql);
        EXPECT_EQ(text.find("ecret"), std::string::npos) << sql << " -> " << text;
        EXPECT_NE(text.find(redacted_literal), std::string::npos) << sql << " -> " << text;
    }
}

TEST(RedactPasswords, LeavesOtherTextAlone) {
    for (const char *sql :
         {"ALTER ROLE app PASSWORD NULL", "COMMENT ON TABLE t IS 'password ''x'''",
          "ALTER TABLE t ADD COLUMN \"password\" text DEFAULT 'x'",
          "ALTER TABLE t RENAME mypassword TO password_hash", "-- password 'x'\nDROP TABLE t",
          "SELECT $$password 'x'$$", "CREATE ROLE r CONNECTION LIMIT 3",
          "COMMENT ON TABLE t IS 'connection ''password=x'''"}) {
        EXPECT_EQ(redact_passwords(sql), sql) << sql;
    }
}

TEST(RedactPasswords, UnterminatedLiteralIsRedactedToTheEnd) {
    EXPECT_EQ(redact_passwords("ALTER ROLE a PASSWORD 'never closed"),
              "ALTER ROLE a PASSWORD '********'");
}

TEST(AuditStatementText, ShortTextIsKept) {
    EXPECT_EQ(audit_statement_text("DROP TABLE t", 100), "DROP TABLE t");
    EXPECT_EQ(audit_statement_text("\n  DROP TABLE t \t\n", 100), "DROP TABLE t");
    EXPECT_EQ(audit_statement_text(" \n ", 100), "");
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
