#include "core/audit_json.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace guarded_ddl;

TEST(JsonString, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json_string("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(JsonString, DropsATruncatedMultibyteCharacter) {
    EXPECT_EQ(json_string("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
    EXPECT_EQ(json_string("caf\xC3"), "\"caf\"");
    EXPECT_EQ(json_string("x\xE2\x82"), "\"x\"");
    EXPECT_EQ(json_string("x\xE2\x82\xAC"), "\"x\xE2\x82\xAC\"");
}

TEST(BlockersJson, ListsEachBlocker) {
    LockRecord lock{};
    EXPECT_EQ(blockers_json(lock), "[]");
    lock.n_blockers = 2;
    lock.blockers[0] = Blocker{42, 1500, "app", "psql", "idle in transaction", "SELECT 'x'"};
    lock.blockers[1] = Blocker{0, -1, "", "", "prepared", ""};
    EXPECT_EQ(blockers_json(lock),
              "[{\"pid\":42,\"role\":\"app\",\"application\":\"psql\",\"state\":\"idle in "
              "transaction\",\"xact_age_ms\":1500,\"query\":\"SELECT 'x'\"},"
              "{\"pid\":0,\"role\":\"\",\"application\":\"\",\"state\":\"prepared\","
              "\"xact_age_ms\":-1,\"query\":\"\"}]");
}

TEST(AuditEntryJson, NamesVerdictRulesAndError) {
    AuditEntry entry{};
    entry.session.backend_pid = 7;
    entry.session.backend_seq = 3;
    strcpy(entry.session.session_role, "alice");
    strcpy(entry.session.current_role, "app");
    entry.mode = Mode::Enforce;
    strcpy(entry.statement, "ALTER TABLE users DROP COLUMN name");
    entry.record.outcome = Outcome::Blocked;
    strcpy(entry.record.command_tag, "ALTER TABLE");
    strcpy(entry.record.objects, "public.users");
    entry.record.n_rules = 1;
    strcpy(entry.record.rules[0], "drop_column");
    strcpy(entry.record.sqlstate, "GD001");
    strcpy(entry.record.error_message, "blocked");
    EXPECT_EQ(
        audit_entry_json(entry),
        "{\"pid\":7,\"seq\":3,\"session_role\":\"alice\",\"role\":\"app\",\"application\":\"\","
        "\"command\":\"ALTER TABLE\",\"verdict\":\"blocked\",\"mode\":\"enforce\","
        "\"rules\":[\"drop_column\"],\"objects\":\"public.users\",\"sqlstate\":\"GD001\","
        "\"error\":\"blocked\",\"statement\":\"ALTER TABLE users DROP COLUMN name\"}");
}

TEST(AuditEntryJson, LocksReleasedNamesTheStatements) {
    AuditEntry entry{};
    entry.kind = EntryKind::LocksReleased;
    entry.session.backend_pid = 7;
    entry.released = {4, 9, 0};
    EXPECT_EQ(audit_entry_json(entry),
              "{\"pid\":7,\"locks_released\":{\"first_seq\":4,\"last_seq\":9}}");
}
