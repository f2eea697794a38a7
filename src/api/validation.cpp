#include "switchboard/api/validation.hpp"

namespace switchboard {

bool valid_username(std::string_view name) {
  if (name.size() < 3 || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_password(std::string_view password) {
  return password.size() >= 8 && password.size() <= 128;
}

std::optional<std::string> string_field(const nlohmann::json& object, const char* name,
                                        const char* alias, FieldProblem& problem) {
  auto it = object.find(name);
  if (it == object.end()) it = object.find(alias);
  if (it == object.end()) {
    problem = FieldProblem::missing;
    return std::nullopt;
  }
  if (!it->is_string()) {
    problem = FieldProblem::wrong_type;
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace switchboard
