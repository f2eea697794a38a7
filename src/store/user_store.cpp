#include "switchboard/store/user_store.hpp"

#include "switchboard/store/postgres_user_store.hpp"
#include "switchboard/store/sqlite_user_store.hpp"

namespace switchboard {

const char* to_string(StoreError e) {
  switch (e) {
    case StoreError::username_taken:
      return "username_taken";
    case StoreError::not_found:
      return "not_found";
    case StoreError::unavailable:
      return "unavailable";
  }
  return "unknown";
}

bool is_postgresql_location(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::unique_ptr<UserStore> open_user_store(const std::string& location, unsigned pool_size) {
  if (is_postgresql_location(location)) {
    return std::make_unique<PostgresUserStore>(location, pool_size);
  }
  std::string path = location.starts_with("sqlite:") ? location.substr(7) : location;
  return std::make_unique<SqliteUserStore>(path);
}

}  // namespace switchboard
