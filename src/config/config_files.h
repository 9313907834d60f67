// Reading configuration files: the one named on the command line, and those
// an `include` directive names (a path, or a glob as Redis 7 allows). The
// only file I/O of the config module; parsing stays in config.cc.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lockd/status.h"

namespace lockd::config_internal {

// Reads all of `fd` into `*out`; false with errno set on a read error.
bool ReadAll(int fd, std::string* out);

// The whole file, or "Fatal error, can't open config file '...': ..." as
// redis-server words it.
Status ReadConfigFile(const std::string& path, std::string* text);

// The files `include <pattern>` stands for, each as (path, text), in order.
// As in Redis 7: a pattern with '*', '?' or '[' is a glob whose matches are
// read in sorted order, and no match at all is not an error (an empty
// conf.d); any other pattern is a path that must exist. Relative paths are
// relative to the working directory.
Status ReadIncludedFiles(const std::string& pattern,
                         std::vector<std::pair<std::string, std::string>>* files);

}  // namespace lockd::config_internal
