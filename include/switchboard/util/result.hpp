#pragma once

#include <utility>
#include <variant>

namespace switchboard {

/// A value or an error, for module edges where a failure is an expected outcome rather than
/// an exception (std::expected arrives with C++23).
template <class T, class E>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

/// The "nothing to return" value for Result<Unit, E>.
struct Unit {};

}  // namespace switchboard
