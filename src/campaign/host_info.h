// What a campaign records about where it ran: the SHA-256 of each model file and a fingerprint
// of the host (hostname, OS, kernel, CPU model, cores, memory). Reads files and /proc only;
// safe to call from any thread.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace concord {

// Lowercase hex SHA-256 of a file's bytes (OpenSSL); of a folder (a SavedModel), of its files'
// relative paths and digests, sorted. Error(kInput) when unreadable.
std::string Sha256File(const std::filesystem::path& file);

// Host description recorded with every environment: hostname, OS, kernel, CPU model, cores,
// memory.
nlohmann::json MachineFingerprint();

// The name of this machine in the store's environment key: $CONCORD_MACHINE_LABEL when set and
// not empty (give each node of a cluster its node name; pods of one node may share it), else the
// hostname. The fingerprint records it as "label".
std::string MachineLabel();

}  // namespace concord
