// lockd's version, and the Redis version whose behaviour it follows (what
// HELLO and INFO report as the server version, so that client libraries that
// gate features on it enable what lockd supports).
#pragma once

namespace lockd {

inline constexpr const char* kLockdVersion = "0.1.0";
inline constexpr const char* kCompatibleRedisVersion = "7.0.0";

}  // namespace lockd
