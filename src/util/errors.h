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
// Script errors as Redis 7.0 words them.
inline constexpr const char* kScriptStackLimit = "ERR reached lua stack limit";
inline constexpr const char* kScriptCompileFormat = "ERR Error compiling script (new function): {}";
// Formatted with the script's sha and the Lua error (cut at 100 bytes).
inline constexpr const char* kScriptRunFormat = "ERR Error running script {}, {:.100}";
// lockd's own: error({}) raised no text (redis-server 7.0 crashes there).
inline constexpr const char* kScriptErrorWithoutText =
    "ERR unknown error (the error object has no 'err' field)";
inline constexpr const char* kShebangInvalid = "ERR Invalid script shebang";
inline constexpr const char* kShebangNoEngine = "ERR Invalid engine in script shebang";
inline constexpr const char* kShebangEngineFormat = "ERR Unexpected engine in script shebang: {}";
inline constexpr const char* kShebangOptionFormat = "ERR Unknown lua shebang option: {}";
inline constexpr const char* kShebangFlagFormat = "ERR Unexpected flag in script shebang: {}";
// Raised inside scripts by the sandbox and the redis.* API (Redis 7.0's
// texts; the error code ERR and the script's position are added to them).
inline constexpr const char* kLuaStackLimit = "reached lua stack limit";
inline constexpr const char* kLuaReadonlyTable = "Attempt to modify a readonly table";
inline constexpr const char* kLuaMissingGlobal =
    "Script attempted to access nonexistent global variable '%s'";
inline constexpr const char* kLuaCallOutsideScript =
    "redis.call/pcall can only be called inside a script invocation";
inline constexpr const char* kLuaCallNoArguments =
    "Please specify at least one argument for this redis lib call";
inline constexpr const char* kLuaCallBadArgument =
    "Lua redis lib command arguments must be strings or integers";
inline constexpr const char* kLuaWrongArgumentCount = "wrong number of arguments";
inline constexpr const char* kLuaWrongArguments = "wrong number or type of arguments";
inline constexpr const char* kLuaLogArguments = "redis.log() requires two arguments or more.";
inline constexpr const char* kLuaLogLevelType = "First argument must be a number (log level).";
inline constexpr const char* kLuaLogLevel = "Invalid debug level.";
inline constexpr const char* kLuaSetRespOutsideScript =
    "redis.setresp can only be called inside a script invocation";
inline constexpr const char* kLuaSetRespArguments = "redis.setresp() requires one argument.";
inline constexpr const char* kLuaSetRespVersion = "RESP version must be 2 or 3.";
inline constexpr const char* kLuaSetReplOutsideScript =
    "redis.set_repl can only be called inside a script invocation";
inline constexpr const char* kLuaSetReplArguments = "redis.set_repl() requires two arguments.";
inline constexpr const char* kLuaSetReplFlags =
    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.";
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

// The HTTP/JSON API: the "error" member of a JSON error body (no code; the
// HTTP status says what kind of error it is).
inline constexpr const char* kHttpNoEndpoint = "no such endpoint";
inline constexpr const char* kHttpMethodFormat = "method {} not allowed";
inline constexpr const char* kHttpAuthRequired = "authentication required";
inline constexpr const char* kHttpBadTarget = "invalid request target";
inline constexpr const char* kHttpMissingKeyParam = "missing query parameter 'key'";
inline constexpr const char* kHttpBadKeyParam =
    "query parameter 'key' is not validly percent-encoded";
inline constexpr const char* kHttpBadKeyPath = "the key in the path is not validly percent-encoded";
inline constexpr const char* kHttpHeld = "the lock is held by another holder";
inline constexpr const char* kHttpNotHolder = "the lock is not held by that holder and token";
inline constexpr const char* kHttpNotHeld = "the lock is not held";
inline constexpr const char* kHttpUnexpectedReply = "unexpected reply";
inline constexpr const char* kHttpBodyTooLargeFormat = "request body larger than {} bytes";
inline constexpr const char* kHttpHeadersTooLarge = "request headers too large";
inline constexpr const char* kHttpRequestTimeout = "the request did not arrive in time";
inline constexpr const char* kHttpBadRequestFormat = "bad HTTP request: {}";
inline constexpr const char* kHttpBadJsonFormat = "invalid JSON body: {}";
inline constexpr const char* kHttpNotObject = "the body must be a JSON object";
inline constexpr const char* kHttpMissingFieldFormat = "missing field '{}'";
inline constexpr const char* kHttpNotStringFormat = "field '{}' must be a string";
inline constexpr const char* kHttpEmptyFieldFormat = "field '{}' must not be empty";
// Formatted with the field and what it must be ("a positive integer").
inline constexpr const char* kHttpBadNumberFormat = "field '{}' must be {}";

// Pub/sub and the operator commands (SLOWLOG, LATENCY, MONITOR, CONFIG
// REWRITE), in Redis 7.0's words.
inline constexpr const char* kSubscribedContextFormat =
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
    "allowed in this context";
inline constexpr const char* kSlowlogCount = "ERR count should be greater than or equal to -1";
inline constexpr const char* kMonitorDenyBlocking =
    "ERR MONITOR isn't allowed for DENY BLOCKING client";
inline constexpr const char* kConfigRewriteNoFile =
    "ERR The server is running without a config file";
inline constexpr const char* kConfigRewriteFailedFormat = "ERR Rewriting config file: {}";


// ---- Replication (src/repl/), in Redis 7.0's words.
inline constexpr const char* kReadOnlyReplica = "READONLY You can't write against a read only replica.";
inline constexpr const char* kNoReplicas = "NOREPLICAS Not enough good replicas to write.";
inline constexpr const char* kWaitOnReplica =
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
    "replica is configured to be writable (which is not the default) writes to replicas are just "
    "local and are not propagated.";
inline constexpr const char* kNoMasterLink = "NOMASTERLINK Can't SYNC while not connected with my master";
inline constexpr const char* kUnrecognizedReplconfFormat = "ERR Unrecognized REPLCONF option: {}";
inline constexpr const char* kInvalidMasterPort = "ERR Invalid master port";
inline constexpr const char* kReplicaOfFromReplica = "ERR Command is not valid when client is a replica.";

// ---- ACL (src/acl/, cmd/acl_commands.cc), in Redis 7.0's words.
inline constexpr const char* kNoPermCommandFormat =
    "NOPERM this user has no permissions to run the '{}' command";
inline constexpr const char* kNoPermKey =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
inline constexpr const char* kNoPermChannel =
    "NOPERM this user has no permissions to access one of the channels used as arguments";
// EXEC of a queued command the rules no longer allow; formatted with a reason.
inline constexpr const char* kNoPermExecFormat =
    "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
    "call. This command is no longer allowed for the following reason: {}";
inline constexpr const char* kNoPermExecCommandReason =
    "no permission to execute the command or subcommand";
inline constexpr const char* kNoPermExecKeyReason = "no permission to touch the specified keys";
inline constexpr const char* kNoPermExecChannelReason =
    "no permission to access one of the channels used as arguments";
// redis.call refused by the caller's rules (the script error adds where).
inline constexpr const char* kScriptNoPermCommand =
    "ERR The user executing the script can't run this command or subcommand";
inline constexpr const char* kScriptNoPermKey =
    "ERR The user executing the script can't access at least one of the keys mentioned in the "
    "command arguments";
inline constexpr const char* kScriptNoPermChannel =
    "ERR The user executing the script can't publish to the channel mentioned in the command";
// lockd's own: lock-bind-holder-to-user refused a renew, release, overwrite
// or delete of a lock another user holds (whatever holder and token were sent).
inline constexpr const char* kNoPermHolderBound =
    "NOPERM this lock is held by another user: only the user that acquired it may renew, "
    "release, overwrite or delete it";
inline constexpr const char* kAclUsernameSpaces =
    "ERR Usernames can't contain spaces or null characters";
inline constexpr const char* kAclUnmatchedParenFormat =
    "ERR Unmatched parenthesis in acl selector starting at '{}'.";
inline constexpr const char* kAclDefaultUndeletable = "ERR The 'default' user cannot be removed";
inline constexpr const char* kAclNoAclFile =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
    "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
    "configuration file set) in order to store users in the Redis configuration.";
inline constexpr const char* kAclSaveFailed =
    "ERR There was an error trying to save the ACLs. Please check the server logs for more "
    "information";
inline constexpr const char* kAclUnknownCategoryFormat = "ERR Unknown category '{:.128}'";
inline constexpr const char* kAclGenpassBits =
    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive "
    "number up to 4096";
inline constexpr const char* kAclDryrunNoUserFormat = "ERR User '{}' not found";
inline constexpr const char* kAclDryrunNoCommandFormat = "ERR Command '{}' not found";
inline constexpr const char* kAclNoSuchUserFormat = "ERR Can not find user '{}' in ACL";
// The reasons CONFIG SET gives (after "possibly related to argument ...")
// when a TLS change cannot be applied, as Redis words them.
inline constexpr const char* kTlsConfigUpdateFailed =
    "Unable to update TLS configuration. Check server logs.";
inline constexpr const char* kTlsPortListenFailed =
    "Unable to listen on this port. Check server logs.";

}  // namespace lockd::errors
