//===- SpecReader.cpp - JSON spec files to Spec -----------------------------------------------===//
//
// Strict: every object's fields are checked against a table (unknown, duplicate and missing fields
// are errors), every value's JSON type is checked, and every error names the file, the field's JSON
// path and its line:column.
//
//===----------------------------------------------------------------------------------------===//

#include "tilefuse/spec/Spec.h"

#include "tilefuse/spec/Json.h"

#include "SourceMap.h"
#include "Suggest.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <tuple>

namespace tilefuse::spec {
namespace {

using json = nlohmann::json;
using detail::SourceMap;

struct FieldRule {
  std::string_view name;
  bool required;
  std::string_view meaning; ///< For "missing required field" messages.
};

constexpr FieldRule kTopFields[] = {
    {"name", true, "the variant's name, an identifier such as \"causal\""},
    {"description", false, "free text"},
    {"dtype", true, "the element type of Q, K, V and O: \"bf16\" or \"fp16\""},
    {"head_dim", true, "D, the head dimension of Q and K, a positive integer"},
    {"value_dim", false, "Dv, the head dimension of V and O, a positive integer"},
    {"heads", true, "an object {\"q\": Hq, \"kv\": Hkv}"},
    {"scale", false, "the softmax scale, a positive number"},
    {"lse", false, "true or false"},
    {"score_mod", false, "a float expression"},
    {"mask_mod", false, "a bool expression"},
    {"captures", false, "an object of captured tensors"},
    {"let", false, "an object of named sub-expressions {\"name\": \"expression\", ...}"},
    {"math", false, "how score_mod / mask_mod compute tanh and exp: \"approx\" or \"exact\""},
    {"normalizer", false, "how scores become weights: \"softmax\" (the default), \"none\" or \"stick_breaking\""},
    {"sink", false, "a float expression over b, h, the sizes and captures, e.g. \"sinks[h]\""},
    {"layout", false, "\"batched\" ([B, H, S, D] tensors) or \"packed\" (variable-length sequences, cu_seqlens)"},
    {"shape", true, "the default problem size {\"B\": ..., \"Sq\": ..., \"Sk\": ...}"},
};
constexpr FieldRule kHeadsFields[] = {
    {"q", true, "Hq, the number of query heads, a positive integer"},
    {"kv", true, "Hkv, the number of K/V heads, a positive integer dividing Hq"},
};
constexpr FieldRule kShapeFields[] = {
    {"B", true, "the batch size, a positive integer"},
    {"Sq", true, "the query sequence length, a positive integer"},
    {"Sk", true, "the key/value sequence length, a positive integer"},
};
constexpr FieldRule kCaptureFields[] = {
    {"shape", true, "a list of sizes: integers or expressions over B, Hq, Hkv, Sq, Sk"},
    {"dtype", true, "\"f32\", \"f16\", \"bf16\", \"i32\" or \"i64\""},
    {"description", false, "free text"},
};

// "string \"8\"", "number 1.5", "an object", ... for "got ..." in messages.
std::string describe(const json &j) {
  std::string text = dumpJson(j);
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  switch (j.type()) {
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "boolean " + text;
  case json::value_t::string:
    return "string " + text;
  default:
    return "number " + text;
  }
}

bool isIdentifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

// Names a capture may not take: they already mean something in expressions.
std::vector<std::string> reservedNames() {
  std::vector<std::string> names = {"true", "false", "inf", "where"};
  for (int v = 0; v <= static_cast<int>(Variable::Sk); ++v)
    names.emplace_back(spelling(static_cast<Variable>(v)));
  for (int f = 0; f <= static_cast<int>(kLastBuiltin); ++f)
    names.emplace_back(spelling(static_cast<Builtin>(f)));
  return names;
}

class SpecReader {
public:
  SpecReader(std::string file, std::shared_ptr<const SourceMap> source)
      : file_(std::move(file)), source_(std::move(source)) {}

  Spec read(const json &root) {
    if (!source_->duplicateKeys().empty()) {
      const auto &[path, offset] = source_->duplicateKeys().front();
      fail(path, "appears twice in the same object; expected each field once", true);
    }
    checkObject(root, "", kTopFields);
    Spec spec;
    spec.file = file_;
    spec.source = source_;
    spec.name = readIdentifier(root.at("name"), "name");
    if (root.contains("description"))
      spec.description = readString(root.at("description"), "description");
    spec.dtype = readDType(root.at("dtype"), "dtype");
    spec.headDim = readPositiveInt(root.at("head_dim"), "head_dim");
    if (root.contains("value_dim"))
      spec.valueDim = readPositiveInt(root.at("value_dim"), "value_dim");
    checkObject(root.at("heads"), "heads", kHeadsFields);
    spec.headsQ = readPositiveInt(root.at("heads").at("q"), "heads.q");
    spec.headsKv = readPositiveInt(root.at("heads").at("kv"), "heads.kv");
    if (root.contains("scale"))
      spec.scale = readScale(root.at("scale"), "scale");
    if (root.contains("lse"))
      spec.lse = readBool(root.at("lse"), "lse");
    if (root.contains("captures"))
      readCaptures(root.at("captures"), spec);
    if (root.contains("let"))
      readLets(root.at("let"), spec);
    if (root.contains("score_mod"))
      spec.scoreMod =
          readExpr(root.at("score_mod"), "score_mod", letScope(spec, ExprContext::ScoreMod));
    if (root.contains("mask_mod"))
      spec.maskMod = readExpr(root.at("mask_mod"), "mask_mod", letScope(spec, ExprContext::MaskMod));
    if (root.contains("normalizer"))
      spec.normalizer = readNormalizer(root.at("normalizer"), "normalizer");
    if (root.contains("sink"))
      spec.sink = readExpr(root.at("sink"), "sink", letScope(spec, ExprContext::Sink));
    checkNormalizer(spec);
    checkCapturesUsed(spec);
    if (root.contains("math"))
      spec.math = readMathMode(root.at("math"), "math");
    if (root.contains("layout"))
      spec.layout = readLayout(root.at("layout"), "layout");
    checkObject(root.at("shape"), "shape", kShapeFields);
    spec.batch = readPositiveInt(root.at("shape").at("B"), "shape.B");
    spec.seqQ = readPositiveInt(root.at("shape").at("Sq"), "shape.Sq");
    spec.seqK = readPositiveInt(root.at("shape").at("Sk"), "shape.Sk");
    resolveShape(spec); // Hq % Hkv and capture sizes at the default shape.
    return spec;
  }

private:
  [[noreturn]] void fail(std::string_view path, std::string message, bool atKey = false) const {
    throw SpecError(source_->locate(file_, path, atKey), std::move(message));
  }

  void checkObject(const json &j, std::string_view path, std::span<const FieldRule> rules) const {
    if (!j.is_object())
      fail(path, fmt::format("expected an object, got {}", describe(j)));
    std::vector<std::string> allowed;
    for (const FieldRule &rule : rules)
      allowed.emplace_back(rule.name);
    for (const auto &[key, value] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        fail(SourceMap::child(path, key),
             fmt::format("unknown field '{}'{}; expected one of: {}", key,
                         detail::didYouMean(key, allowed), detail::joinNames(allowed)),
             true);
    }
    for (const FieldRule &rule : rules) {
      if (rule.required && !j.contains(rule.name))
        fail(SourceMap::child(path, rule.name),
             fmt::format("missing required field '{}'{}: {}", rule.name,
                         path.empty() ? "" : fmt::format(" in '{}'", path), rule.meaning));
    }
  }

  std::string readString(const json &j, std::string_view path) const {
    if (!j.is_string())
      fail(path, fmt::format("expected a string, got {}", describe(j)));
    return j.get<std::string>();
  }

  std::string readIdentifier(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    if (!isIdentifier(s))
      fail(path, fmt::format("\"{}\" is not an identifier; expected letters, digits and '_', not "
                             "starting with a digit",
                             s));
    return s;
  }

  int64_t readPositiveInt(const json &j, std::string_view path) const {
    bool tooLarge = j.is_number_unsigned() &&
                    j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (!j.is_number_integer() || tooLarge || j.get<int64_t>() <= 0)
      fail(path, fmt::format("expected a positive integer, got {}", describe(j)));
    return j.get<int64_t>();
  }

  bool readBool(const json &j, std::string_view path) const {
    if (!j.is_boolean())
      fail(path, fmt::format("expected true or false, got {}", describe(j)));
    return j.get<bool>();
  }

  // The kernels multiply in fp32: the scale must be a normal fp32 number.
  double readScale(const json &j, std::string_view path) const {
    double v = j.is_number() ? j.get<double>() : 0.0;
    if (!j.is_number() || !(v >= std::numeric_limits<float>::min()) ||
        !(v <= std::numeric_limits<float>::max()))
      fail(path, fmt::format("expected a positive number from {:g} to {:g} (the softmax scale, "
                             "used in fp32; leave it out for 1/sqrt(head_dim)), got {}",
                             std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
                             describe(j)));
    return v;
  }

  DType readDType(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    if (s == "bf16")
      return DType::BF16;
    if (s == "fp16")
      return DType::FP16;
    fail(path, fmt::format("unsupported dtype \"{}\"; expected \"bf16\" or \"fp16\"", s));
  }

  MathMode readMathMode(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    for (MathMode m : {MathMode::Approx, MathMode::Exact})
      if (spelling(m) == s)
        return m;
    fail(path, fmt::format("unsupported math mode \"{}\"{}; expected \"approx\" (the default: hardware "
                           "approximations, tanh.approx.f32 and ex2.approx, in score_mod and mask_mod) or "
                           "\"exact\" (the CUDA math library: tanhf, expf)",
                           s, detail::didYouMean(s, {"approx", "exact"})));
  }

  Layout readLayout(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    for (Layout l : {Layout::Batched, Layout::Packed})
      if (spelling(l) == s)
        return l;
    fail(path, fmt::format("unsupported layout \"{}\"{}; expected \"batched\" (the default: Q [B, Hq, Sq, D], "
                           "K/V [B, Hkv, Sk, D]) or \"packed\" (variable-length sequences concatenated: "
                           "Q [total_q, Hq, D], K/V [total_k, Hkv, D], with cu_seqlens_q / cu_seqlens_k)",
                           s, detail::didYouMean(s, {"batched", "packed"})));
  }

  Normalizer readNormalizer(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    for (Normalizer n : {Normalizer::Softmax, Normalizer::None, Normalizer::StickBreaking})
      if (spelling(n) == s)
        return n;
    fail(path, fmt::format("unsupported normalizer \"{}\"{}; expected \"softmax\" (the default: "
                           "O = softmax(s) V), \"none\" (O = sum_kv s V with the score_mod's value as "
                           "the weight and masked entries 0, e.g. sigmoid attention) or \"stick_breaking\" "
                           "(O = sum_kv beta_kv prod_{{kept k > kv}} (1 - beta_k) V with beta = sigmoid(s), "
                           "Tan et al. 2024)",
                           s, detail::didYouMean(s, {"softmax", "none", "stick_breaking"})));
  }

  // LSE and a sink are defined through the softmax's row sum: "none" and "stick_breaking" have
  // neither.
  void checkNormalizer(const Spec &spec) const {
    if (spec.normalizer == Normalizer::Softmax)
      return;
    const std::string_view n = spelling(spec.normalizer);
    if (spec.lse)
      fail("lse", fmt::format("\"lse\": true needs the softmax normalizer: with \"normalizer\": \"{}\" "
                              "there is no row sum, so LSE is not defined; leave lse out (or false) or "
                              "use \"normalizer\": \"softmax\"",
                              n));
    if (spec.sink)
      fail("sink", fmt::format("a sink adds exp(sink) to the softmax denominator; with \"normalizer\": "
                               "\"{}\" there is no denominator; leave sink out or use \"normalizer\": "
                               "\"softmax\"",
                               n));
  }

  ElementType readElementType(const json &j, std::string_view path) const {
    std::string s = readString(j, path);
    for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16, ElementType::I32,
                          ElementType::I64})
      if (spelling(t) == s)
        return t;
    fail(path, fmt::format("unsupported capture dtype \"{}\"; expected \"f32\", \"f16\", "
                           "\"bf16\", \"i32\" or \"i64\"",
                           s));
  }

  Expr readExpr(const json &j, std::string_view path, const ExprScope &scope) const {
    if (!j.is_string())
      fail(path, fmt::format("expected an expression string, got {}", describe(j)));
    try {
      Expr e = parseExpr(j.get<std::string>());
      if (!lets_.empty())
        e = inlineLets(std::move(e), scope.context, path);
      checkExpr(e, scope);
      return e;
    } catch (const SpecError &e) {
      if (!e.where().file.empty())
        throw;
      throw SpecError(source_->locateInString(file_, path, e.exprColumn()), e.message());
    }
  }

  // ---- let: named sub-expressions, inlined where they are used -----------------------------

  struct Let {
    std::string name;
    Expr body;              ///< Parsed; after resolution: every let name inside inlined, checked.
    bool usesScore = false; ///< Reads `score` (then mask_mod cannot use it).
    int state = 0;          ///< 0 unvisited, 1 on the resolution stack, 2 resolved.
  };

  // Bounds on a tree after inlining: every later walk recurses at most this deep, and a chain of
  // names each using the previous twice cannot blow up the kernel.
  static constexpr int kMaxInlinedHeight = 400;
  static constexpr size_t kMaxInlinedNodes = 20000;
  static constexpr size_t kMaxLetNesting = 64; ///< Longest chain of lets each using the next.

  ExprScope letScope(const Spec &spec, ExprContext context) const {
    ExprScope scope = scopeOf(spec, context);
    for (const Let &l : lets_)
      scope.letNames.push_back(l.name);
    return scope;
  }

  Let *findLet(std::string_view name) {
    for (Let &l : lets_)
      if (l.name == name)
        return &l;
    return nullptr;
  }
  const Let *findLet(std::string_view name) const {
    return const_cast<SpecReader *>(this)->findLet(name);
  }

  static int height(const Expr &e) {
    int h = 0;
    for (const Expr &c : e.operands)
      h = std::max(h, height(c));
    return h + 1;
  }
  static size_t nodeCount(const Expr &e) {
    size_t n = 1;
    for (const Expr &c : e.operands)
      n += nodeCount(c);
    return n;
  }

  [[noreturn]] static void exprError(int column, std::string message) {
    SourceLocation where;
    where.exprColumn = column;
    throw SpecError(where, std::move(message));
  }

  // Replaces every reference to a let name in `e` by that let's resolved body (the copy's root takes
  // the reference's column and origin, so that a type error about it points at the name, and keeps
  // its own place in definedIn / definedAt). `context` decides whether a let reading `score` may be
  // used.
  Expr substitute(Expr e, ExprContext context) const {
    if (e.kind == ExprKind::Variable) {
      if (const Let *l = findLet(e.name)) {
        if (context == ExprContext::MaskMod && l->usesScore)
          exprError(e.column, fmt::format("'{}' at column {} is a let name that reads 'score', which "
                                          "mask_mod cannot see; score belongs in score_mod",
                                          e.name, e.column));
        Expr copy = l->body;
        copy.definedIn = std::move(copy.origin);
        copy.definedAt = copy.column;
        copy.origin = e.origin;
        copy.column = e.column;
        return copy;
      }
      return e;
    }
    if (e.kind == ExprKind::TensorRead && findLet(e.name))
      exprError(e.column, fmt::format("'{}' at column {} is a let name, a value, and cannot be "
                                      "indexed; only captured tensors can",
                                      e.name, e.column));
    for (Expr &c : e.operands)
      c = substitute(std::move(c), context);
    return e;
  }

  Expr inlineLets(Expr e, ExprContext context, std::string_view what) const {
    Expr out = substitute(std::move(e), context);
    size_t nodes = nodeCount(out);
    if (nodes > kMaxInlinedNodes)
      exprError(0, fmt::format("{} has {} nodes once its let names are written out; expected at "
                               "most {} (a let name used many times inside others multiplies)",
                               what, nodes, kMaxInlinedNodes));
    int h = height(out);
    if (h > kMaxInlinedHeight)
      exprError(0, fmt::format("{} is nested {} levels deep once its let names are written out; "
                               "expected at most {}",
                               what, h, kMaxInlinedHeight));
    return out;
  }

  void readLets(const json &lets, const Spec &spec) {
    if (!lets.is_object())
      fail("let", fmt::format("expected an object of named expressions {{\"name\": \"expression\", "
                              "...}}, got {}",
                              describe(lets)));
    std::vector<std::string> reserved = reservedNames();
    for (const auto &[name, body] : lets.items()) {
      std::string path = SourceMap::child("let", name);
      if (!isIdentifier(name))
        fail(path,
             fmt::format("let name '{}' is not an identifier; expected letters, digits and '_', "
                         "not starting with a digit",
                         name),
             true);
      if (std::find(reserved.begin(), reserved.end(), name) != reserved.end())
        fail(path,
             fmt::format("let name '{}' would shadow the built-in {} '{}'; choose another name",
                         name, builtinKind(name), name),
             true);
      if (findCapture(spec, name) != nullptr)
        fail(path,
             fmt::format("let name '{}' would shadow the captured tensor '{}'; choose another name",
                         name, name),
             true);
      if (!body.is_string())
        fail(path, fmt::format("expected an expression string, got {}", describe(body)));
      Let l;
      l.name = name;
      try {
        l.body = parseExpr(body.get<std::string>());
      } catch (const SpecError &e) {
        throw SpecError(source_->locateInString(file_, path, e.exprColumn()), e.message());
      }
      lets_.push_back(std::move(l));
    }
    std::vector<std::string> stack;
    for (size_t i = 0; i < lets_.size(); ++i)
      resolveLet(lets_[i], spec, stack);
  }

  static std::string_view builtinKind(std::string_view name) {
    for (int v = 0; v <= static_cast<int>(Variable::Sk); ++v)
      if (spelling(static_cast<Variable>(v)) == name)
        return "variable";
    if (name == "true" || name == "false" || name == "inf")
      return "constant";
    return "function";
  }

  // Sets Expr::origin to `path` on the nodes of `e` written in that let's own text (those inlined
  // from other lets already name theirs), so that a column always comes with its text.
  static void markOrigin(Expr &e, const std::string &path) {
    if (e.origin.empty())
      e.origin = path;
    for (Expr &c : e.operands)
      markOrigin(c, path);
  }

  // Depth-first: resolves the lets `l` uses, then inlines them into `l` and checks it. The stack
  // is the chain of names being resolved, for the message naming a cycle. Recursion is bounded by
  // the number of lets, and each is resolved once.
  void resolveLet(Let &l, const Spec &spec, std::vector<std::string> &stack) {
    if (l.state == 2)
      return;
    std::string path = SourceMap::child("let", l.name);
    if (l.state == 1) {
      auto from = std::find(stack.begin(), stack.end(), l.name);
      std::vector<std::string> cycle(from, stack.end());
      cycle.push_back(l.name);
      fail(path, fmt::format("let names form a cycle: {}; expected each name to use only names "
                             "defined without it",
                             detail::joinNames(cycle, " -> ")),
           true);
    }
    if (stack.size() >= kMaxLetNesting)
      fail(path,
           fmt::format("let names nest more than {} deep ({} uses {} ...); expected at most {}",
                       kMaxLetNesting, stack.front(), stack.size() > 1 ? stack[1] : l.name,
                       kMaxLetNesting),
           true);
    l.state = 1;
    stack.push_back(l.name);
    std::vector<Let *> deps;
    forEachNode(l.body, [&](const Expr &e) {
      if (e.kind == ExprKind::Variable)
        if (Let *dep = findLet(e.name))
          deps.push_back(dep);
    });
    for (Let *dep : deps)
      resolveLet(*dep, spec, stack);
    stack.pop_back();
    try {
      l.body = inlineLets(std::move(l.body), ExprContext::Let, "let '" + l.name + "'");
      checkExpr(l.body, letScope(spec, ExprContext::Let));
    } catch (const SpecError &e) {
      throw SpecError(source_->locateInString(file_, path, e.exprColumn()), e.message());
    }
    forEachNode(l.body, [&](const Expr &e) {
      l.usesScore |= e.kind == ExprKind::Variable && e.variable == Variable::Score;
    });
    markOrigin(l.body, path);
    l.state = 2;
  }

  void readCaptures(const json &captures, Spec &spec) const {
    if (!captures.is_object())
      fail("captures",
           fmt::format("expected an object of captured tensors, got {}", describe(captures)));
    std::vector<std::string> reserved = reservedNames();
    // nlohmann::json keeps object keys sorted, so Spec::captures comes out sorted by name.
    for (const auto &[name, body] : captures.items()) {
      std::string path = SourceMap::child("captures", name);
      if (!isIdentifier(name))
        fail(path,
             fmt::format("capture name '{}' is not an identifier; expected letters, digits "
                         "and '_', not starting with a digit",
                         name),
             true);
      if (std::find(reserved.begin(), reserved.end(), name) != reserved.end())
        fail(path,
             fmt::format("capture name '{}' is reserved in expressions; choose another name", name),
             true);
      checkObject(body, path, kCaptureFields);
      Capture capture;
      capture.name = name;
      capture.dtype = readElementType(body.at("dtype"), path + ".dtype");
      if (body.contains("description"))
        capture.description = readString(body.at("description"), path + ".description");
      const json &dims = body.at("shape");
      std::string shapePath = path + ".shape";
      if (!dims.is_array() || dims.empty())
        fail(shapePath, fmt::format("expected a non-empty list of sizes (integers or expressions "
                                    "over B, Hq, Hkv, Sq, Sk), got {}",
                                    describe(dims)));
      ExprScope dimScope{ExprContext::CaptureDim, {}};
      for (size_t i = 0; i < dims.size(); ++i) {
        std::string dimPath = SourceMap::element(shapePath, i);
        if (dims[i].is_string())
          capture.shape.push_back(readExpr(dims[i], dimPath, dimScope));
        else if (dims[i].is_number_integer())
          capture.shape.push_back(Expr::intLiteral(readPositiveInt(dims[i], dimPath)));
        else
          fail(dimPath, fmt::format("expected a positive integer or a size expression such as "
                                    "\"Sq + Sk - 1\", got {}",
                                    describe(dims[i])));
        capture.shape.back().type = ScalarType::Int;
      }
      spec.captures.push_back(std::move(capture));
    }
  }

  void checkCapturesUsed(const Spec &spec) const {
    std::set<int> used;
    for (const std::optional<Expr> *mod : {&spec.scoreMod, &spec.maskMod, &spec.sink})
      if (mod->has_value())
        forEachNode(**mod, [&](const Expr &e) {
          if (e.kind == ExprKind::TensorRead)
            used.insert(e.captureSlot);
        });
    for (size_t slot = 0; slot < spec.captures.size(); ++slot)
      if (!used.count(static_cast<int>(slot)))
        fail(SourceMap::child("captures", spec.captures[slot].name),
             fmt::format("captured tensor '{}' is not read by score_mod, mask_mod or sink; expected "
                         "every capture to be used",
                         spec.captures[slot].name),
             true);
  }

  std::string file_;
  std::shared_ptr<const SourceMap> source_;
  std::vector<Let> lets_;
};

// nlohmann's "parse error at line 3, column 0: syntax error ..." without the part before the
// reason (we compute line:column ourselves from the byte offset).
std::string parseErrorReason(const std::string &what) {
  size_t column = what.find("column ");
  if (column == std::string::npos)
    return what;
  size_t colon = what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

} // namespace

Spec parseSpecString(std::string_view text, std::string_view fileName) {
  auto source = std::make_shared<const SourceMap>(std::string(text));
  auto failAt = [&](size_t offset, std::string message) {
    SourceLocation where;
    where.file = fileName;
    where.field = source->pathAt(offset);
    std::tie(where.line, where.column) = source->lineColumn(offset);
    throw SpecError(where, std::move(message));
  };
  // A duplicate key (also one spelled with escapes, "head\u005fdim") is reported with its place
  // before nlohmann would reject it without one.
  if (!source->duplicateKeys().empty()) {
    SourceLocation where = source->locate(fileName, source->duplicateKeys().front().first, true);
    throw SpecError(where, "appears twice in the same object; expected each field once");
  }
  json root;
  try {
    root = parseUntrustedJson(text);
  } catch (const JsonInputError &e) {
    if (source->tooDeep() != std::string::npos)
      failAt(source->tooDeep(), fmt::format("malformed JSON: objects and arrays nested more "
                                            "than {} levels deep",
                                            kMaxJsonDepth));
    if (source->numberOverflow() != std::string::npos)
      failAt(source->numberOverflow(),
             fmt::format("malformed JSON: {}; expected a number within the range of double",
                         e.what()));
    size_t offset = e.offset() == std::string::npos ? 0 : e.offset();
    // For an unexpected string literal that byte is its closing quote: point at the opening one.
    if (e.offset() != std::string::npos && offset < text.size() && text[offset] == '"' &&
        offset > 0) {
      size_t open = text.find_last_of('"', offset - 1);
      while (open != std::string_view::npos && open > 0 && text[open - 1] == '\\')
        open = open > 1 ? text.find_last_of('"', open - 2) : std::string_view::npos;
      if (open != std::string_view::npos)
        offset = open;
    }
    failAt(offset, "malformed JSON: " + parseErrorReason(e.what()));
  }
  return SpecReader(std::string(fileName), std::move(source)).read(root);
}

Spec parseSpecFile(const std::string &path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".mlir") == 0) {
    SourceLocation where;
    where.file = path;
    throw SpecError(where, "a block program (.mlir), not a JSON spec: `tilefuse fuse FILE` fuses a block program "
                           "(as `tilefuse-opt FILE --tilefuse-fuse` does); lower, run, emit, tune and bench take a "
                           "JSON spec");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    SourceLocation where;
    where.file = path;
    throw SpecError(where, fmt::format("cannot open the spec file: {}", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    SourceLocation where;
    where.file = path;
    throw SpecError(where, "cannot read the spec file");
  }
  return parseSpecString(text.str(), path);
}

} // namespace tilefuse::spec
