#include "pg/subtransaction.hpp"

extern "C" {
#include "utils/resowner.h"
}

ErrorData *gd_try_in_subtransaction(void (*fn)(void *), void *arg, bool roll_back) {
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    ErrorData *volatile error = nullptr;

    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    PG_TRY();
    {
        fn(arg);
        if (roll_back)
            RollbackAndReleaseCurrentSubTransaction();
        else
            ReleaseCurrentSubTransaction();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        error = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
    return error;
}

bool gd_error_must_propagate(int sqlerrcode) {
    switch (ERRCODE_TO_CATEGORY(sqlerrcode)) {
    case ERRCODE_INSUFFICIENT_RESOURCES:
    case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
    case ERRCODE_OPERATOR_INTERVENTION:
    case ERRCODE_SYSTEM_ERROR:
    case ERRCODE_TRANSACTION_ROLLBACK:
        return true;
    default:
        return false;
    }
}
