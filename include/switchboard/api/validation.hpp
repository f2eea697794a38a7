#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

/// 3 to 32 characters of A-Z a-z 0-9 _ . -
bool valid_username(std::string_view name);
/// 8 to 128 bytes.
bool valid_password(std::string_view password);

/// Why a string field could not be read from a request object.
enum class FieldProblem { missing, wrong_type };

/// Reads the string field spelled `name` (as in the original design) or `alias` (lower case).
/// When both are present, the original spelling wins.
std::optional<std::string> string_field(const nlohmann::json& object, const char* name,
                                        const char* alias, FieldProblem& problem);

}  // namespace switchboard
