#pragma once

#include <vector>

namespace switchboard {

/// The SQL dialects an account store speaks; each has its own directory of migrations.
enum class SqlDialect { sqlite, postgresql };

/// One schema step from db/migrations/<dialect>/, embedded at build time. The N-th migration
/// (1-based) brings a database to schema version N.
struct Migration {
  const char* name;
  const char* sql;
};

const std::vector<Migration>& schema_migrations(SqlDialect dialect);

}  // namespace switchboard
