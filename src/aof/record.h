// The log's vocabulary: what one record says, how it is written, and how a
// parsed RESP array is read back as a record. Shared by the server's writer,
// its loader, the rewrite child and lockd-check-aof, so all four agree on
// every byte.
//
// A record is a RESP array of bulk strings (readable with `cat`):
//
//   LOCK.GRANT    key holder token pxat    key now held by holder with token
//   LOCK.EXTEND   key holder token pxat    same holder and token, new deadline
//   LOCK.FREE     key cause                key freed; cause: release|expire|delete
//   LOCK.RESERVE  token horizon            token limit and lease horizon (below)
//   LOCK.SHUTDOWN gate                     clean stop; gate: grants blocked until
//   MULTI / EXEC                           the records between are one atomic unit
//
// pxat, horizon and gate are absolute wall-clock times in Unix milliseconds,
// 0 meaning none. Deadlines are rounded up, never down, to the millisecond.
// LOCK.RESERVE says: no token above `token` and no lease ending after
// `horizon` was revealed by the run that wrote it before a newer LOCK.RESERVE
// reached the disk. See DESIGN.md §9 for how the loader uses each record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lockd/engine.h"

namespace lockd::aof {

enum class RecordType { kGrant, kExtend, kFree, kReserve, kShutdown, kMulti, kExec };

// Whether records of this type name a key.
inline bool HasKey(RecordType type) {
  return type == RecordType::kGrant || type == RecordType::kExtend || type == RecordType::kFree;
}

struct Record {
  RecordType type = RecordType::kMulti;
  std::string_view key;     // kGrant, kExtend, kFree
  std::string_view holder;  // kGrant, kExtend
  // kGrant, kExtend: the lease's token. kReserve: the token limit.
  uint64_t token = 0;
  // kGrant, kExtend: the deadline. kReserve: the horizon. kShutdown: the gate.
  // Unix milliseconds; 0: none.
  int64_t unix_ms = 0;
  FreeCause cause = FreeCause::kNone;  // kFree
};

// How a LOCK.FREE record names its cause: "release", "expire", "delete".
const char* FreeCauseName(FreeCause cause);

// Appends one record, RESP-encoded, to `out`.
void AppendGrant(std::string* out, ChangeKind kind, std::string_view key, std::string_view holder,
                 uint64_t token, int64_t pxat_ms);
void AppendFree(std::string* out, std::string_view key, FreeCause cause);
void AppendReserve(std::string* out, uint64_t token_limit, int64_t horizon_ms);
void AppendShutdown(std::string* out, int64_t gate_ms);
// MULTI is always these many bytes.
inline constexpr size_t kMultiRecordSize = 15;
void AppendMulti(std::string* out);
void AppendExec(std::string* out);

// Reads a parsed array as a record. On failure returns false and sets
// *error to what is wrong ("unknown record 'FOO'", "bad token", ...). The
// record's string_views point into argv's storage.
bool DecodeRecord(const std::vector<std::string_view>& argv, Record* record, std::string* error);

}  // namespace lockd::aof
