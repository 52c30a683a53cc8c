//===- Json.cpp - Reading untrusted JSON and printing JSON safely -----------------------------===//

#include "tilefuse/spec/Json.h"

#include <nlohmann/json.hpp>

#include <set>
#include <utility>
#include <vector>

namespace tilefuse::spec {
namespace {

using json = nlohmann::json;

// "[json.exception.parse_error.101] parse error at line 3, column 0: syntax error ..." without
// the "[json.exception...]" prefix.
std::string withoutPrefix(const std::string &what) {
  size_t close = what.find("] ");
  return close != std::string::npos && what.rfind("[json.exception.", 0) == 0
             ? what.substr(close + 2)
             : what;
}

// The depth of `j`'s nesting, measured without recursion; stops counting past `limit`.
int nestingDepth(const json &j, int limit) {
  std::vector<std::pair<const json *, int>> stack{{&j, 0}};
  int deepest = 0;
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (!v->is_structured())
      continue;
    deepest = std::max(deepest, depth + 1);
    if (deepest > limit)
      return deepest;
    for (const json &child : *v)
      stack.emplace_back(&child, depth + 1);
  }
  return deepest;
}

} // namespace

json parseUntrustedJson(std::string_view text) {
  // One set of keys per open object (nullopt-like empty marker for arrays keeps the stack aligned).
  std::vector<std::set<std::string>> keys;
  std::vector<bool> isObject;
  auto callback = [&](int depth, json::parse_event_t event, json &parsed) -> bool {
    switch (event) {
    case json::parse_event_t::object_start:
    case json::parse_event_t::array_start:
      if (depth >= kMaxJsonDepth)
        throw JsonInputError("objects and arrays nested more than " +
                                 std::to_string(kMaxJsonDepth) + " levels deep",
                             std::string::npos);
      isObject.push_back(event == json::parse_event_t::object_start);
      keys.emplace_back();
      break;
    case json::parse_event_t::object_end:
    case json::parse_event_t::array_end:
      if (!keys.empty()) {
        keys.pop_back();
        isObject.pop_back();
      }
      break;
    case json::parse_event_t::key:
      if (!keys.empty() && parsed.is_string() &&
          !keys.back().insert(parsed.get_ref<const std::string &>()).second)
        throw JsonInputError("key " + dumpJson(parsed) +
                                 " appears twice in the same object (after unescaping)",
                             std::string::npos);
      break;
    case json::parse_event_t::value:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const JsonInputError &) {
    throw;
  } catch (const json::parse_error &e) {
    throw JsonInputError(withoutPrefix(e.what()), e.byte > 0 ? e.byte - 1 : 0);
  } catch (const json::exception &e) {
    // out_of_range.406: "number overflow parsing '1e999'".
    throw JsonInputError(withoutPrefix(e.what()), std::string::npos);
  }
}

std::string dumpJson(const json &j, int indent) noexcept {
  try {
    if (nestingDepth(j, kMaxJsonDepth) > kMaxJsonDepth)
      return "\"<nested too deep>\"";
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    return "\"<unprintable>\"";
  }
}

} // namespace tilefuse::spec
