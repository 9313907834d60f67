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
// CLIENT SETINFO with an attribute other than LIB-NAME or LIB-VER (7.2's text).
inline constexpr const char* kUnrecognizedOptionFormat = "ERR Unrecognized option '{}'";
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

// EXPIRE family options, in Redis 7.0's words.
inline constexpr const char* kExpireNxWithOthers =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr const char* kExpireGtAndLt =
    "ERR GT and LT options at the same time are not compatible";
inline constexpr const char* kUnsupportedOptionFormat = "ERR Unsupported option {}";
// A SET that would give a key to a new holder (a new fencing token) during
// the restart lock-delay after an unclean stop; formatted with the ms left.
// TRYAGAIN, as Redis says for "retry later, nothing was done".
inline constexpr const char* kGrantsClosedFormat =
    "TRYAGAIN restart lock-delay after an unclean stop: no key is given to a new holder for {} "
    "more ms";

// CLUSTER, READONLY, READWRITE, ASKING: lockd is never a cluster node.
inline constexpr const char* kClusterDisabled = "ERR This instance has cluster support disabled";

// Transactions, in Redis 7.0's words.
inline constexpr const char* kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr const char* kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr const char* kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr const char* kWatchInsideMulti = "ERR WATCH inside MULTI is not allowed";
inline constexpr const char* kNotAllowedInMulti = "ERR Command not allowed inside a transaction";
inline constexpr const char* kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
// Formatted with the error that stopped EXEC itself, without its '-'.
inline constexpr const char* kExecAbortBecauseFormat =
    "EXECABORT Transaction discarded because of: {}";

}  // namespace lockd::errors
