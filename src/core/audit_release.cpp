#include "core/audit_release.hpp"

namespace guarded_ddl {

bool releases(const AuditEntry &release, const AuditEntry &statement) noexcept {
    return release.kind == EntryKind::LocksReleased && statement.kind == EntryKind::Statement &&
           release.session.backend_pid == statement.session.backend_pid &&
           release.session.backend_start_us == statement.session.backend_start_us &&
           statement.session.backend_seq >= release.released.first_seq &&
           statement.session.backend_seq <= release.released.last_seq;
}

int64_t released_in_batch(const AuditEntry *const *batch, int n, int i) noexcept {
    for (int j = i + 1; j < n; j++)
        if (releases(*batch[j], *batch[i]))
            return batch[j]->released.released_us;
    return 0;
}

bool released_within_batch(const AuditEntry *const *batch, int j) noexcept {
    const AuditEntry &release = *batch[j];
    int64_t wanted = release.released.last_seq - release.released.first_seq + 1;
    int64_t found = 0;
    for (int i = 0; i < j && found < wanted; i++)
        if (releases(release, *batch[i]))
            found++;
    return found == wanted;
}

} // namespace guarded_ddl
