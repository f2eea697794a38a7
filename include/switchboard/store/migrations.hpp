#pragma once

#include <vector>

namespace switchboard {

/// One schema step from db/migrations/, embedded at build time. The N-th migration (1-based)
/// brings a database to `PRAGMA user_version = N`.
struct Migration {
  const char* name;
  const char* sql;
};

const std::vector<Migration>& schema_migrations();

}  // namespace switchboard
