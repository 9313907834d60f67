// Every error text a client can see, in one place, in Redis's words where
// Redis has them. Texts include the error code ("ERR", "NOAUTH", ...) but not
// the leading '-' or the trailing CRLF; ReplyWriter::Error adds those.
#pragma once

namespace lockd::errors {

// Protocol (the connection is closed after the reply).
inline constexpr const char* kTooBigInline = "ERR Protocol error: too big inline request";
inline constexpr const char* kUnbalancedQuotes = "ERR Protocol error: unbalanced quotes in request";
inline constexpr const char* kTooBigMbulkCount = "ERR Protocol error: too big mbulk count string";
inline constexpr const char* kInvalidMultibulkLength = "ERR Protocol error: invalid multibulk length";
inline constexpr const char* kTooBigBulkCount = "ERR Protocol error: too big bulk count string";
inline constexpr const char* kInvalidBulkLength = "ERR Protocol error: invalid bulk length";
inline constexpr const char* kUnauthMultibulkLength =
    "ERR Protocol error: unauthenticated multibulk length";
inline constexpr const char* kUnauthBulkLength = "ERR Protocol error: unauthenticated bulk length";
// Formatted with the offending byte: "ERR Protocol error: expected '$', got 'x'".
inline constexpr const char* kExpectedDollarFormat = "ERR Protocol error: expected '$', got '{}'";

// Connection.
inline constexpr const char* kMaxClients = "ERR max number of clients reached";
inline constexpr const char* kNoAuth = "NOAUTH Authentication required.";
inline constexpr const char* kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr const char* kAuthWithoutPassword =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
inline constexpr const char* kNoProto = "NOPROTO unsupported protocol version";
inline constexpr const char* kDbIndexOutOfRange = "ERR DB index is out of range";
inline constexpr const char* kLoading = "LOADING lockd is loading the dataset in memory";
inline constexpr const char* kUnblocked = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
inline constexpr const char* kNoSuchClient = "ERR No such client";
inline constexpr const char* kProtocolVersionNotInteger =
    "ERR Protocol version is not an integer or out of range";
inline constexpr const char* kHelloOptionFormat = "ERR Syntax error in HELLO option '{}'";
inline constexpr const char* kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";
inline constexpr const char* kBadClientInfo =
    "ERR {} cannot contain spaces, newlines or special characters.";
inline constexpr const char* kUnblockReason = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
inline constexpr const char* kUnknownClientType = "ERR Unknown client type '{}'";

// Commands.
inline constexpr const char* kUnknownCommandFormat =
    "ERR unknown command '{}', with args beginning with: {}";
inline constexpr const char* kUnknownSubcommandFormat =
    "ERR unknown subcommand '{}'. Try {} HELP.";
inline constexpr const char* kWrongArityFormat = "ERR wrong number of arguments for '{}' command";
inline constexpr const char* kSyntax = "ERR syntax error";
inline constexpr const char* kNotInteger = "ERR value is not an integer or out of range";
inline constexpr const char* kInvalidExpireFormat = "ERR invalid expire time in '{}' command";
inline constexpr const char* kTimeoutNegative = "ERR timeout is negative";
inline constexpr const char* kTimeoutOutOfRange = "ERR timeout is out of range";
inline constexpr const char* kEmptyHolder = "ERR holder must not be empty";
inline constexpr const char* kMaxWaiters = "MAXWAITERS too many waiters on this key";
inline constexpr const char* kInvalidCursor = "ERR invalid cursor";
// Formatted with the subcommand as typed and the command in capitals.
inline constexpr const char* kSubcommandSyntaxFormat =
    "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.";
inline constexpr const char* kInvalidCommandSpecified = "ERR Invalid command specified";
inline constexpr const char* kCommandHasNoKeys = "ERR The command has no key arguments";
inline constexpr const char* kInvalidArgumentCount =
    "ERR Invalid number of arguments specified for command";
inline constexpr const char* kInvalidClientId = "ERR Invalid client ID";
inline constexpr const char* kNoSuchUserFormat = "ERR No such user '{}'";
inline constexpr const char* kWaitTimeoutNotInteger = "ERR timeout is not an integer or out of range";
// Redis 7.0's wording.
inline constexpr const char* kHelloNeedsAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time";
// The token counter reached 2^63-1: no lock can be granted to a new holder
// (current holders can still renew, re-acquire and release).
inline constexpr const char* kTokensExhausted =
    "ERR fencing tokens exhausted: the token counter reached 9223372036854775807, so no new lock "
    "can be granted";
// BGREWRITEAOF with appendonly no: lockd writes no log then (one written
// now would be replayed later as current after leases changed).
inline constexpr const char* kRewriteNeedsAppendOnly =
    "ERR Background append only file rewriting needs 'appendonly yes': with appendonly no lockd "
    "keeps no log, and a snapshot written now would go stale as soon as a lease changes";

// Scripts (EVAL, EVALSHA, SCRIPT), in Redis 7.0's words where Redis has them.
inline constexpr const char* kNumKeysTooMany =
    "ERR Number of keys can't be greater than number of args";
inline constexpr const char* kNumKeysNegative = "ERR Number of keys can't be negative";
inline constexpr const char* kNoScript = "NOSCRIPT No matching script. Please use EVAL.";
inline constexpr const char* kNotBusy = "NOTBUSY No scripts in execution right now.";
inline constexpr const char* kScriptFlushOption = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
inline constexpr const char* kScriptWriteFlagOnRo =
    "ERR Can not execute a script with write flag using *_ro command.";
inline constexpr const char* kScriptDebugOption = "ERR Use SCRIPT DEBUG YES/SYNC/NO";
// lockd's own: there is no Lua debugger.
inline constexpr const char* kScriptDebugUnsupported =
    "ERR SCRIPT DEBUG YES|SYNC is not supported: lockd has no Lua debugger";
// Refusals of redis.call (the script error adds where it happened).
inline constexpr const char* kScriptUnknownCommand = "ERR Unknown Redis command called from script";
inline constexpr const char* kScriptWrongArity =
    "ERR Wrong number of args calling Redis command from script";
inline constexpr const char* kScriptNoScriptCommand =
    "ERR This Redis command is not allowed from script";
inline constexpr const char* kScriptWriteInReadOnly =
    "ERR Write commands are not allowed from read-only scripts.";
// lockd's own: a script stopped by lua-time-limit (Redis would keep it
// running and answer others -BUSY; lockd's scripts never outlive their
// command). Formatted with the limit in milliseconds.
inline constexpr const char* kScriptTimeLimitFormat =
    "ERR Script killed by lua-time-limit after {} ms";
// lockd's own: the Lua heap reached its cap while a script ran.
inline constexpr const char* kScriptOutOfMemoryFormat =
    "ERR Script exceeded the Lua memory limit of {} bytes";

}  // namespace lockd::errors
