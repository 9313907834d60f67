// LogReader: walks the bytes of a log file record by record and says, for
// the first thing that is not a whole valid record, whether it is a torn
// tail (the file simply ends too early) or damage.
//
// The rule, shared by the server's loader and lockd-check-aof:
//   - the file is a sequence of records (aof/record.h); MULTI ... EXEC groups
//     records into one unit, and units do not nest;
//   - if the bytes from some offset to the end of the file are a proper
//     prefix of a well-formed RESP array of bulk strings (what a write cut
//     short leaves), or the file ends inside a MULTI unit, the log
//     is *truncated* at the start of that record (or of that MULTI): cutting
//     the file there leaves a valid log;
//   - any other problem (a bad byte in a header, a bad length, a record that
//     decodes to nothing valid, EXEC without MULTI, MULTI inside MULTI) is
//     *damage* at the offset of the record it is in.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "aof/record.h"

namespace lockd::aof {

class LogReader {
 public:
  enum class Result {
    kRecord,     // *record is the next record
    kEnd,        // the file ended cleanly after the last record
    kTruncated,  // torn tail: valid_end() is where a cut leaves a valid log
    kDamaged,    // damage: error_offset() and error() say where and what
  };

  // `data` is the whole file and must outlive the reader.
  explicit LogReader(std::string_view data);

  // The next record. MULTI and EXEC are returned as records too; the reader
  // checks that they pair up. Once kEnd, kTruncated or kDamaged has been
  // returned, every later call returns the same.
  Result Next(Record* record);

  // Offset of the first byte after the last record returned.
  size_t offset() const { return offset_; }
  // Offset of the record Next() returned last.
  size_t record_offset() const { return record_offset_; }
  // kTruncated: the length to cut the file to (the start of the torn record,
  // or of the MULTI whose unit is unfinished). Otherwise the end of the last
  // complete unit.
  size_t valid_end() const { return valid_end_; }
  size_t error_offset() const { return error_offset_; }
  const std::string& error() const { return error_; }

 private:
  std::string_view data_;
  size_t offset_ = 0;
  size_t record_offset_ = 0;
  size_t valid_end_ = 0;
  size_t unit_start_ = 0;  // offset of the open MULTI
  bool in_unit_ = false;
  size_t error_offset_ = 0;
  std::string error_;
  std::vector<std::string_view> argv_;
  Result done_ = Result::kRecord;  // kRecord: not done yet
};

// The verdict on a whole file, as lockd-check-aof reports it.
struct LogCheck {
  LogReader::Result result = LogReader::Result::kEnd;  // kEnd, kTruncated or kDamaged
  size_t records = 0;    // records before the verdict (MULTI/EXEC included)
  size_t valid_end = 0;  // the last valid offset: the file length when kEnd
  size_t error_offset = 0;
  std::string error;
};
LogCheck CheckLog(std::string_view data);

}  // namespace lockd::aof
