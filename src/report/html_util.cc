#include "report/html_util.h"

#include <fmt/format.h>

#include <cctype>

namespace concord::report {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ScriptJson(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ChartJsScript() {
  // Chart.js 3.9.1 contains no "</script" (it would end the element); guard anyway: inside JS
  // strings, regexes and comments "<\/" means the same as "</".
  std::string chartjs(kChartJs);
  for (size_t p = 0; (p = chartjs.find("</", p)) != std::string::npos; p += 2) {
    std::string next = chartjs.substr(p + 2, 6);
    for (char& c : next) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (next == "script") chartjs.replace(p, 2, "<\\/");
  }
  return chartjs;
}

std::string CardOpen(std::string_view id, size_t m, std::string_view title) {
  return fmt::format("<section id=\"{}-{}\" class=\"card\">\n<h3>{}</h3>\n", id, m, title);
}

std::string ChartCanvas(std::string_view kind, size_t m, std::string_view style,
                        std::string_view label) {
  return fmt::format(
      "<div class=\"chart\" style=\"{}\"><canvas data-chart=\"{}\" data-model=\"{}\" "
      "role=\"img\" aria-label=\"{}\"></canvas></div>\n",
      style, kind, m, label);
}

}  // namespace concord::report
