#include "campaign/host_info.h"

#include <openssl/evp.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "ir/error.h"

namespace concord {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using DigestCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestCtx NewSha256() {
  DigestCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  return ctx;
}

std::string HexDigest(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace

std::string Sha256File(const fs::path& file) {
  DigestCtx ctx = NewSha256();
  if (fs::is_directory(file)) {  // a SavedModel folder: its files' paths and digests, sorted
    std::vector<std::string> entries;
    for (const auto& e : fs::recursive_directory_iterator(file)) {
      if (e.is_regular_file()) {
        entries.push_back(fs::relative(e.path(), file).generic_string() + " " +
                          Sha256File(e.path()));
      }
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) EVP_DigestUpdate(ctx.get(), e.data(), e.size() + 1);
    return HexDigest(ctx.get());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) Fail(ErrorKind::kInput, "{}: cannot read the file", file.string());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  return HexDigest(ctx.get());
}

namespace {

std::string HostName() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

std::string MachineLabel() {
  const char* label = std::getenv("CONCORD_MACHINE_LABEL");
  return label != nullptr && *label != '\0' ? std::string(label) : HostName();
}

json MachineFingerprint() {
  json m;
  m["hostname"] = HostName();
  m["label"] = MachineLabel();
  utsname u{};
  if (uname(&u) == 0) {
    m["kernel"] = std::string(u.sysname) + " " + u.release;
    m["arch"] = u.machine;
  }
  std::ifstream os("/etc/os-release");
  for (std::string line; std::getline(os, line);) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      m["os"] = v;
    }
  }
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  m["cores"] = std::thread::hardware_concurrency();
  std::ifstream mem("/proc/meminfo");
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m["memory_gib"] = std::round(std::stod(line.substr(9)) / (1024.0 * 1024.0) * 10) / 10;
    }
  }
  return m;
}

}  // namespace concord
