#include "switchboard/util/json_depth.hpp"

namespace switchboard {

namespace {

using json = nlohmann::json;

/// nlohmann's own DOM builder, stopped where an array or object would open deeper than the
/// bound. Stopping there (rather than scanning for depth first) reports the fault the parser
/// meets first, as a bounded parser does, and never builds the deep part of a hostile
/// document. The parser calls these by name (sax_parse is a template): hiding is enough.
class BoundedDomBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  BoundedDomBuilder(json& document, std::size_t max_depth)
      : json_sax_dom_parser(document, /*allow_exceptions=*/false), max_depth_(max_depth) {}

  bool start_object(std::size_t n) { return deeper() && json_sax_dom_parser::start_object(n); }
  bool start_array(std::size_t n) { return deeper() && json_sax_dom_parser::start_array(n); }
  bool end_object() { return --depth_, json_sax_dom_parser::end_object(); }
  bool end_array() { return --depth_, json_sax_dom_parser::end_array(); }

  bool too_deep() const { return too_deep_; }

 private:
  bool deeper() {
    too_deep_ = ++depth_ > max_depth_;
    return !too_deep_;
  }

  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
};

bool starts_with_bom(std::string_view text) {
  return text.starts_with("\xEF\xBB\xBF");
}

}  // namespace

bool json_too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

Result<json, JsonError> parse_json(std::string_view text, std::size_t max_depth) {
  // A raw NUL is never valid JSON (a string must escape it), and no JSON text starts with a
  // BOM: both are refused before nlohmann, which reads them leniently, sees them.
  if (text.find('\0') != std::string_view::npos || starts_with_bom(text)) {
    return JsonError::not_json;
  }
  json root;
  BoundedDomBuilder builder(root, max_depth);
  bool ok = json::sax_parse(text.data(), text.data() + text.size(), &builder,
                            json::input_format_t::json, /*strict=*/true);
  if (builder.too_deep()) return JsonError::too_deep;
  if (!ok) return JsonError::not_json;
  return root;
}

}  // namespace switchboard
