#include "ijepa/host/build_config.hpp"
#include "ijepa/host/log/logging.hpp"

#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "ijepa/sdk/version.hpp"

namespace ijepa::host::logging {
namespace {

struct State {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> console;
  std::vector<std::shared_ptr<spdlog::sinks::basic_file_sink_mt>> files;
  std::function<void()> console_line;  // set_console_line
  std::shared_ptr<spdlog::logger> logger;  // private logger: never registered in spdlog's global registry

  State() {
    console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    console->set_level(spdlog::level::info);
    if (const char* env = std::getenv("IJEPA_LOG_LEVEL")) {
      console->set_level(spdlog::level::from_str(env));
    }
    rebuild();
  }
  void rebuild() {
    std::vector<spdlog::sink_ptr> sinks{console};
    for (auto& f : files) sinks.push_back(f);
    logger = std::make_shared<spdlog::logger>("ijepa", sinks.begin(), sinks.end());
    logger->set_level(spdlog::level::trace);
    logger->flush_on(spdlog::level::info);
  }
};

State& state() {
  static State s;
  return s;
}

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

void services_log(void* /*ctx*/, int level, const char* msg) {
  Level l = level <= 0 ? Level::debug : level == 1 ? Level::info : level == 2 ? Level::warn : Level::error;
  write(l, msg != nullptr ? msg : "");
}

}  // namespace

void write(Level level, const std::string& msg) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.console_line && s.console->should_log(to_spd(level))) s.console_line();
  s.logger->log(to_spd(level), "{}", msg);
}

void write_files(Level level, const std::string& msg) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  const spdlog::details::log_msg m(s.logger->name(), to_spd(level), msg);
  for (auto& f : s.files) {
    f->log(m);
    f->flush();
  }
}

void with_console(const std::function<void()>& draw) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  draw();
}

void set_console_line(std::function<void()> erase) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.console_line = std::move(erase);
}

void set_console_level(Level level) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.console->set_level(to_spd(level));
}

bool add_file_sink(const std::string& path) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    s.files.push_back(sink);
    s.rebuild();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void clear_file_sinks() {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.logger->flush();
  s.files.clear();
  s.rebuild();
}

const IjepaHostServices* host_services() {
  static const IjepaHostServices services{sizeof(IjepaHostServices), nullptr, &services_log,
                                          "ijepa-workbench " IJEPA_WORKBENCH_VERSION};
  return &services;
}

std::string format_with_spdlog_fmt(int value, double x) { return fmt::format("{:05d}|{:.3f}", value, x); }

}  // namespace ijepa::host::logging
