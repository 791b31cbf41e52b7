// Numbers in Concord's JSON documents. JSON has no NaN or infinity, so every double that may
// be non-finite is written through JsonNumber: a finite value as a number, NaN as the string
// "nan", +/-infinity as "inf" / "-inf" (what Python's float() reads back). null always means
// "no value" (not measured, not applicable), never a non-finite number.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

namespace concord {

nlohmann::json JsonNumber(double v);
// Reads what JsonNumber wrote: a number or one of the three strings; nullopt for anything else.
std::optional<double> JsonNumberValue(const nlohmann::json& v);

}  // namespace concord
