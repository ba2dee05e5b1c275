#pragma once
// Host logging facade. Its implementation is the only code that sees spdlog/fmt 9, and it is compiled
// without torch's include directories (torch ships its own fmt; see docs/architecture-notes.md).
#include <functional>
#include <string>

#include "ijepa/sdk/host_services.hpp"

namespace ijepa::host::logging {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// [thread-safe] Writes one line to the console sink and any file sinks.
void write(Level level, const std::string& msg);
inline void debug(const std::string& m) { write(Level::debug, m); }
inline void info(const std::string& m) { write(Level::info, m); }
inline void warn(const std::string& m) { write(Level::warn, m); }
inline void error(const std::string& m) { write(Level::error, m); }

// A line kept open on the console (a progress line rewritten in place): while one is set, a message that reaches the
// console first calls `erase` (under the logging lock; it should erase the line and note that it did, so its owner
// redraws it rather than ending it). An empty function: none.
// `erase` must not log (the logging lock is held and not recursive).
void set_console_line(std::function<void()> erase);
// Runs `draw` under the logging lock, so a line drawn on the console and a log message never interleave.
void with_console(const std::function<void()>& draw);

// [thread-safe] Writes one line to the file sinks only (a run's log.txt): what the console already shows another way,
// such as the error a command prints last.
void write_files(Level level, const std::string& msg);

// Console threshold (default info; IJEPA_LOG_LEVEL=debug|info|warn|error|off overrides at first use).
void set_console_level(Level level);
// Adds a file sink (e.g. a run's log.txt); all levels >= debug go there. Returns false if it cannot be opened.
bool add_file_sink(const std::string& path);
// Removes every file sink added so far (flushes them).
void clear_file_sinks();
// The HostServices table handed to plugins; log() goes through write(), tagged with the plugin id by the host.
const IjepaHostServices* host_services();
// Formats through spdlog's fmt (fmt 9) — used by the test that proves both fmt copies coexist.
std::string format_with_spdlog_fmt(int value, double x);

}  // namespace ijepa::host::logging
