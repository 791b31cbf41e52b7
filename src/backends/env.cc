#include "backends/env.h"

#include <cctype>

#include "ir/error.h"

namespace concord {

namespace {

bool IsIdent(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

EnvSpec EnvSpec::Parse(const std::string& text) {
  const char* kForm = "expected BACKEND[@DEVICE][,KEY=VALUE]..., e.g. 'ort@cpu,opt=3,threads=1'";
  std::string s = Trim(text);
  if (s.empty()) Fail(ErrorKind::kUsage, "empty environment string; {}", kForm);
  EnvSpec env;
  size_t comma = s.find(',');
  std::string head = Trim(s.substr(0, comma));
  size_t at = head.find('@');
  env.backend = Trim(head.substr(0, at));
  if (at != std::string::npos) env.device = Trim(head.substr(at + 1));
  if (!IsIdent(env.backend)) Fail(ErrorKind::kUsage, "bad backend name in '{}'; {}", text, kForm);
  if (!IsIdent(env.device)) Fail(ErrorKind::kUsage, "bad device in '{}'; {}", text, kForm);
  while (comma != std::string::npos) {
    size_t next = s.find(',', comma + 1);
    std::string item = Trim(s.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1));
    comma = next;
    size_t eq = item.find('=');
    if (eq == std::string::npos) Fail(ErrorKind::kUsage, "option '{}' in '{}' has no '='; {}", item, text, kForm);
    std::string key = Trim(item.substr(0, eq));
    std::string value = Trim(item.substr(eq + 1));
    if (!IsIdent(key)) Fail(ErrorKind::kUsage, "bad option name '{}' in '{}'", key, text);
    if (env.options.count(key)) Fail(ErrorKind::kUsage, "option '{}' given twice in '{}'", key, text);
    env.options[key] = value;
  }
  if (env.options.count("opt")) {
    const std::string& o = env.options["opt"];
    if (o.size() != 1 || o[0] < '0' || o[0] > '3') {
      Fail(ErrorKind::kUsage, "opt must be 0, 1, 2 or 3 (got '{}') in '{}'", o, text);
    }
  }
  if (env.options.count("threads")) {
    const std::string& t = env.options["threads"];
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 4) {
      Fail(ErrorKind::kUsage, "threads must be a non-negative integer (got '{}') in '{}'", t, text);
    }
  }
  return env;
}

std::string EnvSpec::ToString() const {
  std::string s = backend;
  if (!device.empty()) s += "@" + device;
  // Secrets never leave through the text form (it lands in run records, logs and JSON).
  for (const auto& [k, v] : options) s += "," + k + "=" + (k == "token" ? "***" : v);
  return s;
}

int EnvSpec::opt() const { return options.count("opt") ? std::stoi(options.at("opt")) : 3; }
int EnvSpec::threads() const { return options.count("threads") ? std::stoi(options.at("threads")) : 0; }
std::string EnvSpec::Get(const std::string& key, const std::string& def) const {
  auto it = options.find(key);
  return it == options.end() ? def : it->second;
}

}  // namespace concord
