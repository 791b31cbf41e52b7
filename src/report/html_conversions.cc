// HtmlWriter's conversion sections: per model, the direction x env grid (which file each env
// ran: the framework source, its ONNX twin, each conversion; agreement with the env that ran the
// source), and in the summary the campaign's direction x model grid, the conversion study.
#include <algorithm>
#include <map>

#include "report/html_writer.h"

namespace concord::report::detail {
namespace {

// "100 %<br>1.2e-05": top-1 agreement and max abs difference against the reference env.
std::string CellText(const json& cell) {
  return fmt::format("{}<br><small>{}</small>", Pct(Num(cell, "top1_agree")),
                     Sig3(Num(cell, "max_abs")));
}

std::string Tools(const json& row) {
  std::string tools;
  for (const json& t : Arr(row, "tools")) {
    tools += (tools.empty() ? "" : " \u2192 ") + HtmlEscape(Str(t));
  }
  return tools.empty() ? std::string(kAbsent) : tools;
}

// A direction's name, marked as a deployment setting when the conversion quantized (a quantized
// model is expected to differ: its figures measure the setting, they are not a converter bug).
std::string DirectionName(const json& row) {
  std::string q = Str(row, "quantize");
  std::string name = HtmlEscape(Str(row, "direction"));
  if (q.empty() || q == "none") return name;
  return name + fmt::format(
                    "<br><small title=\"quantized ({}): a deployment setting, expected "
                    "to differ\">deployment setting</small>",
                    HtmlEscape(q));
}

}  // namespace

void HtmlWriter::Conversions(const json& model, size_t m) {
  const json& directions = Field(model, "directions");
  if (!directions.is_object()) return;
  std::vector<std::string> envs = ModelEnvs(model);
  std::string ref = Str(directions, "reference_env");
  Open("conversions", m, "Conversions: direction \u00d7 environment");
  Add("<p>Each row is one file of this model: {}its ONNX twin and every conversion; each "
      "environment ran one of them. A cell is that environment's top-1 agreement with "
      "<b>{}</b> (the reference) over the inputs both ran, and below it the largest absolute "
      "output difference.</p>\n",
      Str(Arr(directions, "rows").empty() ? json() : Arr(directions, "rows")[0], "direction") ==
              "source"
          ? "the source, "
          : "",
      HtmlEscape(ref.empty() ? "-" : ref));
  out_ +=
      "<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th>direction</th>"
      "<th>tools</th>";
  for (const std::string& e : envs) Add("<th class=\"rot\">{}</th>", EnvLabel(e));
  out_ += "</tr></thead><tbody>\n";
  for (const json& row : Arr(directions, "rows")) {
    bool ok = Str(row, "status") == "ok";
    Add("<tr><th title=\"{}\">{}</th><td>{}</td>", HtmlEscape(Str(row, "file")), DirectionName(row),
        Tools(row));
    if (!ok) {
      Add("<td colspan=\"{}\" class=\"err\">conversion failed: {}</td></tr>\n", envs.size(),
          HtmlEscape(Str(row, "message")));
      continue;
    }
    for (const std::string& e : envs) {
      const json* cell = nullptr;
      for (const json& c : Arr(row, "cells")) {
        if (Str(c, "env") == e) cell = &c;
      }
      if (cell == nullptr) {
        out_ += "<td></td>";
      } else if (Str(*cell, "env") == ref) {
        out_ += "<td class=\"diag\">reference</td>";
      } else {
        Add("<td{}>{}</td>", AgreementStyle(Num(*cell, "top1_agree"), false), CellText(*cell));
      }
    }
    out_ += "</tr>\n";
  }
  out_ += "</tbody></table></div>\n</section>\n";
}

void HtmlWriter::ConversionStudy(const json& models) {
  std::vector<std::string> directions;       // in first-seen order
  std::map<std::string, std::string> names;  // direction -> its header
  for (const json& model : models) {
    for (const json& row : Arr(Field(model, "directions"), "rows")) {
      std::string d = Str(row, "direction");
      if (std::find(directions.begin(), directions.end(), d) == directions.end()) {
        directions.push_back(d);
        names[d] = DirectionName(row);
      }
    }
  }
  if (directions.empty()) return;
  out_ +=
      "<div id=\"conversion-study\">\n<h4>Conversion study: direction \u00d7 model</h4>\n<p>Top-1 "
      "agreement of each direction's file, on the first "
      "environment that ran it, with the reference environment of its model (the one that "
      "ran the source), and the largest absolute output difference; a red cell is a "
      "divergence, <i>fails</i> a conversion that did not produce a model.</p>\n"
      "<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th>direction</th>";
  for (const json& model : models) Add("<th class=\"rot\">{}</th>", HtmlEscape(Str(model, "name")));
  out_ += "</tr></thead><tbody>\n";
  for (const std::string& d : directions) {
    Add("<tr><th>{}</th>", names[d]);
    for (const json& model : models) {
      const json* found = nullptr;
      for (const json& row : Arr(Field(model, "directions"), "rows")) {
        if (Str(row, "direction") == d) found = &row;
      }
      if (found == nullptr) {
        out_ += "<td></td>";
        continue;
      }
      if (Str(*found, "status") != "ok") {
        Add("<td class=\"err\" title=\"{}\">fails</td>", HtmlEscape(Str(*found, "message")));
        continue;
      }
      const json* cell = nullptr;  // the first env that is not the reference
      bool reference = false;
      for (const json& c : Arr(*found, "cells")) {
        bool is_ref = Field(c, "reference").is_boolean() && Field(c, "reference").get<bool>();
        reference = reference || is_ref;
        if (!is_ref && cell == nullptr) cell = &c;
      }
      reference = reference && cell == nullptr;
      if (reference) {
        out_ += "<td class=\"diag\">reference</td>";
      } else if (cell == nullptr) {
        out_ += "<td title=\"no environment ran this file\">\u2013</td>";
      } else {
        Add("<td{} title=\"{}\">{}</td>", AgreementStyle(Num(*cell, "top1_agree"), false),
            HtmlEscape(Str(*cell, "env")), CellText(*cell));
      }
    }
    out_ += "</tr>\n";
  }
  out_ += "</tbody></table></div>\n</div>\n";
}

}  // namespace concord::report::detail
