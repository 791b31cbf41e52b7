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

std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

// Alternatives of one sweep value: "0..3" -> 0 1 2 3, "a|b" -> a b, else the value itself.
std::vector<std::string> SweepValues(const std::string& env, const std::string& value) {
  size_t dots = value.find("..");
  if (dots != std::string::npos && value.find('|') == std::string::npos) {
    std::string a = value.substr(0, dots), b = value.substr(dots + 2);
    auto is_int = [](const std::string& s) {
      return !s.empty() && s.find_first_not_of("-0123456789") == std::string::npos;
    };
    if (!is_int(a) || !is_int(b) || std::stoll(a) > std::stoll(b) ||
        std::stoll(b) - std::stoll(a) > 64) {
      Fail(ErrorKind::kUsage,
           "env '{}': range '{}' must be LOW..HIGH with integers, LOW <= "
           "HIGH, at most 65 values",
           env, value);
    }
    std::vector<std::string> out;
    for (long long v = std::stoll(a); v <= std::stoll(b); ++v) out.push_back(std::to_string(v));
    return out;
  }
  std::vector<std::string> out = SplitOn(value, '|');
  for (const auto& v : out) {
    if (v.empty()) Fail(ErrorKind::kUsage, "env '{}': empty alternative in '{}'", env, value);
  }
  return out;
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
    std::string item =
        Trim(s.substr(comma + 1, next == std::string::npos ? std::string::npos : next - comma - 1));
    comma = next;
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      Fail(ErrorKind::kUsage, "option '{}' in '{}' has no '='; {}", item, text, kForm);
    std::string key = Trim(item.substr(0, eq));
    std::string value = Trim(item.substr(eq + 1));
    if (!IsIdent(key)) Fail(ErrorKind::kUsage, "bad option name '{}' in '{}'", key, text);
    if (env.options.count(key))
      Fail(ErrorKind::kUsage, "option '{}' given twice in '{}'", key, text);
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
int EnvSpec::threads() const {
  return options.count("threads") ? std::stoi(options.at("threads")) : 0;
}
std::string EnvSpec::Get(const std::string& key, const std::string& def) const {
  auto it = options.find(key);
  return it == options.end() ? def : it->second;
}

std::vector<EnvSpec> ParseEnvList(const std::vector<std::string>& lists) {
  std::vector<EnvSpec> envs;
  for (const std::string& list : lists) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(';', start);
      if (end == std::string::npos) {
        end = list.size();
      }
      std::string item = list.substr(start, end - start);
      start = end + 1;
      if (item.find_first_not_of(" \t") == std::string::npos) {
        continue;
      }
      try {
        envs.push_back(EnvSpec::Parse(item));
      } catch (const Error& e) {
        Fail(ErrorKind::kUsage, "--envs item {} ('{}'): {}", envs.size() + 1, item, e.what());
      }
    }
  }
  if (envs.empty()) {
    Fail(ErrorKind::kUsage, "--envs is empty; give environments like \"ref;ref,threads=1\"");
  }
  return envs;
}

std::vector<std::string> ExpandEnvSweep(const std::string& env) {
  // Split into head (BACKEND[@DEVICE]) and options on ',' (option values may not contain ','
  // in env strings, see env.h).
  std::vector<std::string> parts = SplitOn(env, ',');
  std::vector<std::vector<std::string>> choices;
  std::string head = parts[0];
  size_t at = head.find('@');
  if (at != std::string::npos) {
    std::vector<std::string> heads;
    for (const auto& d : SweepValues(env, head.substr(at + 1))) {
      heads.push_back(head.substr(0, at + 1) + d);
    }
    choices.push_back(heads);
  } else {
    choices.push_back({head});
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    size_t eq = parts[i].find('=');
    if (eq == std::string::npos) {
      choices.push_back({parts[i]});  // EnvSpec::Parse reports the malformed option
      continue;
    }
    std::string key = parts[i].substr(0, eq);
    std::vector<std::string> opts;
    // target strings (TVM) contain spaces and '-', never sweeps: keep them verbatim.
    if (key == "target" || key == "host" || key == "token") {
      opts.push_back(parts[i]);
    } else {
      for (const auto& v : SweepValues(env, parts[i].substr(eq + 1))) opts.push_back(key + "=" + v);
    }
    choices.push_back(opts);
  }
  std::vector<std::string> out = {""};
  for (const auto& c : choices) {
    std::vector<std::string> next;
    for (const auto& prefix : out) {
      for (const auto& v : c) next.push_back(prefix.empty() ? v : prefix + "," + v);
    }
    out = std::move(next);
  }
  for (const auto& e : out) EnvSpec::Parse(e);  // every expansion must be a valid env
  return out;
}

}  // namespace concord
