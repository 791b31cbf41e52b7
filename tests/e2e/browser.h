// Opens a local HTML file in headless Chromium (Debian package `chromium`) for end-to-end tests
// of pages Concord writes: returns the DOM after the page's scripts ran (--dump-dom) and saves a
// screenshot (--screenshot). Each call uses a fresh --user-data-dir and HOME in a temporary
// folder (removed afterwards) and no network (--disable-background-networking; the pages must
// be self-contained anyway). Chromium is looked up as $CONCORD_CHROMIUM, then chromium,
// chromium-browser, google-chrome on PATH; when none is found `found` is false and `error` says
// what to install: callers FAIL on it (a browser test is never skipped silently).
// Every run is bounded by `timeout_s` (coreutils timeout, then SIGKILL 5 s later).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace concord::e2e {

struct BrowserResult {
  bool found = false;  // a Chromium binary was found
  std::string binary;  // which one
  int dom_code = -1;   // exit status of the --dump-dom run (124: timed out)
  int screenshot_code = -1;
  std::string dom;    // serialized DOM after load (scripts ran)
  std::string err;    // stderr of both runs (Chromium logs a lot of harmless D-Bus noise)
  std::string error;  // why nothing could be run, when !found
};

namespace browser_detail {

inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

inline std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string FindChromium() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("CONCORD_CHROMIUM"); env && *env) {
    return fs::exists(env) ? std::string(env) : "";
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::stringstream ss(dirs);
    for (std::string dir; std::getline(ss, dir, ':');) {
      fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "";
}

// Runs `cmd` through the shell; stdout to `out`, stderr appended to `err`.
inline int Run(const std::string& cmd, std::string& out, std::string& err,
               const std::filesystem::path& err_file) {
  FILE* p = popen((cmd + " 2>" + ShellQuote(err_file.string())).c_str(), "r");
  if (!p) return -1;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  err += ReadAll(err_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace browser_detail

// Loads `html_path` in headless Chromium twice: once dumping the DOM, once writing a PNG
// screenshot of width x height pixels to `screenshot_path` (skipped when empty).
inline BrowserResult RenderInChromium(const std::filesystem::path& html_path,
                                      const std::filesystem::path& screenshot_path,
                                      int timeout_s = 90, int width = 1400, int height = 4000) {
  namespace fs = std::filesystem;
  using browser_detail::ShellQuote;
  BrowserResult r;
  r.binary = browser_detail::FindChromium();
  if (r.binary.empty()) {
    r.error =
        "headless Chromium not found (looked at $CONCORD_CHROMIUM, chromium, "
        "chromium-browser, google-chrome on PATH): install the Debian package `chromium` "
        "(apt-get install chromium) or set CONCORD_CHROMIUM=/path/to/chrome";
    return r;
  }
  r.found = true;
  static int counter = 0;
  fs::path tmp = fs::temp_directory_path() / ("concord_browser_" + std::to_string(::getpid()) +
                                              "_" + std::to_string(counter++));
  fs::create_directories(tmp / "home");
  std::string url = "file://" + fs::absolute(html_path).string();
  std::string base = "env HOME=" + ShellQuote((tmp / "home").string()) + " timeout -k 5 " +
                     std::to_string(timeout_s) + " " + ShellQuote(r.binary) +
                     " --headless --no-sandbox --disable-gpu --disable-background-networking"
                     " --no-first-run --no-default-browser-check --disable-extensions"
                     " --disable-dev-shm-usage --hide-scrollbars"
                     " --user-data-dir=" +
                     ShellQuote((tmp / "profile").string());
  std::string ignored;
  r.dom_code =
      browser_detail::Run(base + " --dump-dom " + ShellQuote(url), r.dom, r.err, tmp / "stderr");
  if (!screenshot_path.empty()) {
    fs::create_directories(fs::absolute(screenshot_path).parent_path());
    fs::remove(screenshot_path);
    r.screenshot_code = browser_detail::Run(
        base + " --window-size=" + std::to_string(width) + "," + std::to_string(height) +
            " --screenshot=" + ShellQuote(fs::absolute(screenshot_path).string()) + " " +
            ShellQuote(url),
        ignored, r.err, tmp / "stderr");
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return r;
}

}  // namespace concord::e2e
