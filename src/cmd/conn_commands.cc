// Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH,
// HELLO and CLIENT with its subcommands, with Redis 7's replies and errors.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "util/strings.h"
#include "cmd/commands.h"
#include "util/errors.h"
#include "util/version.h"

namespace lockd {

namespace {

// Authenticates the session as `user` (AUTH, HELLO AUTH); a failure is an
// ACL LOG entry, as in Redis.
bool Authenticate(CommandContext& ctx, std::string_view user, std::string_view password) {
  acl::User* u = ctx.commands.acl().Authenticate(user, password);
  if (u == nullptr) {
    ctx.commands.LogAclDenial(ctx.session, user, acl::Denied::kAuth,
                              ctx.session.in_multi ? "multi" : "toplevel",
                              std::string(ctx.argv[0]));
    return false;
  }
  ctx.session.authenticated = true;
  ctx.session.user = u == &ctx.commands.acl().default_user() ? nullptr : u;
  return true;
}

void CmdPing(CommandContext& ctx) {
  if (ctx.argc() > 2) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kWrongArityFormat), "ping"));
  }
  // A subscribed RESP2 client gets a two-element array, as its messages
  // are arrays too (Redis's rule).
  if (ctx.session.subscribed() && ctx.session.protocol() == 2) {
    ctx.reply().Array(2);
    ctx.reply().Bulk("pong");
    ctx.reply().Bulk(ctx.argc() == 2 ? ctx.argv[1] : "");
    return;
  }
  if (ctx.argc() == 2) return ctx.reply().Bulk(ctx.argv[1]);
  ctx.reply().Simple("PONG");
}

void CmdEcho(CommandContext& ctx) { ctx.reply().Bulk(ctx.argv[1]); }

void CmdQuit(CommandContext& ctx) {
  ctx.reply().Simple("OK");
  ctx.session.close_after_reply = true;
}

void CmdReset(CommandContext& ctx) {
  Session& s = ctx.session;
  // RESET ends any transaction and forgets watched keys (it is never queued).
  ctx.commands.DiscardTransaction(s);
  // It also leaves pub/sub and MONITOR, silently.
  ctx.commands.pubsub().UnsubscribeAll(s);
  ctx.commands.StopMonitor(s);
  s.reply.set_protocol(2);
  s.name.clear();
  // Redis 7.0 keeps CLIENT NO-EVICT across RESET; NO-TOUCH (a later
  // release's flag) is cleared, as that release does.
  s.no_touch = false;
  // Back to the default user, authenticated only if it needs no password.
  s.user = nullptr;
  s.authenticated = ctx.commands.DefaultUserOpen();
  s.reply.Simple("RESET");
}

void CmdSelect(CommandContext& ctx) {
  int64_t db;
  if (!ParseInt64(ctx.argv[1], &db)) return ctx.Error(errors::kNotInteger);
  if (db != 0) return ctx.Error(errors::kDbIndexOutOfRange);
  ctx.reply().Simple("OK");
}

void CmdAuth(CommandContext& ctx) {
  if (ctx.argc() > 3) return ctx.Error(errors::kSyntax);
  bool user_given = ctx.argc() == 3;
  // The old form, with no password set for the default user, is an error
  // (Redis keeps it so).
  if (!user_given && (ctx.commands.acl().default_user().flags & acl::kUserNoPass)) {
    return ctx.Error(errors::kAuthWithoutPassword);
  }
  std::string_view user = user_given ? ctx.argv[1] : "default";
  if (!Authenticate(ctx, user, ctx.argv[ctx.argc() - 1])) return ctx.Error(errors::kWrongPass);
  ctx.reply().Simple("OK");
}

bool ValidClientInfo(std::string_view s) {
  // Redis allows printable ASCII from '!' to '~': no spaces or newlines.
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '!' && c <= '~'; });
}

void CmdHello(CommandContext& ctx) {
  int64_t protocol = ctx.session.protocol();
  if (ctx.argc() >= 2) {
    if (!ParseInt64(ctx.argv[1], &protocol)) return ctx.Error(errors::kProtocolVersionNotInteger);
    if (protocol < 2 || protocol > 3) return ctx.Error(errors::kNoProto);
  }
  std::string_view user, password, name;
  bool auth = false, setname = false;
  for (size_t i = 2; i < ctx.argc(); ++i) {
    size_t more = ctx.argc() - i - 1;
    if (EqualsIgnoreCase(ctx.argv[i], "auth") && more >= 2) {
      auth = true;
      user = ctx.argv[i + 1];
      password = ctx.argv[i + 2];
      i += 2;
    } else if (EqualsIgnoreCase(ctx.argv[i], "setname") && more >= 1) {
      setname = true;
      name = ctx.argv[i + 1];
      i += 1;
    } else {
      return ctx.Error(fmt::format(fmt::runtime(errors::kHelloOptionFormat), ctx.argv[i]));
    }
  }
  if (auth && !Authenticate(ctx, user, password)) return ctx.Error(errors::kWrongPass);
  if (ctx.commands.AuthRequired(ctx.session)) return ctx.Error(errors::kHelloNeedsAuth);
  if (setname) {
    if (!ValidClientInfo(name)) return ctx.Error(errors::kBadClientName);
    ctx.session.name = std::string(name);
  }
  ctx.session.reply.set_protocol(static_cast<int>(protocol));
  ReplyWriter& w = ctx.reply();
  w.Map(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk(kCompatibleRedisVersion);
  w.Bulk("proto");
  w.Integer(protocol);
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(ctx.session.id));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.Array(0);
}

// ---- CLIENT ----

}  // namespace

// One line of CLIENT LIST / CLIENT INFO, in Redis 7.2's field order.
std::string DescribeClient(const Session& s, MonoTime now) {
  // Redis's letters, in its order: O monitor, P subscriber, x in MULTI, b
  // blocked, d a watched key changed, c closing, e no-evict, T no-touch; N
  // for none.
  char flag_chars[9];
  size_t n = 0;
  if (s.monitor) flag_chars[n++] = 'O';
  if (s.subscribed()) flag_chars[n++] = 'P';
  if (s.in_multi) flag_chars[n++] = 'x';
  if (s.blocked()) flag_chars[n++] = 'b';
  if (s.watch_dirty) flag_chars[n++] = 'd';
  if (s.close_after_reply) flag_chars[n++] = 'c';
  if (s.no_evict) flag_chars[n++] = 'e';
  if (s.no_touch) flag_chars[n++] = 'T';
  if (n == 0) flag_chars[n++] = 'N';
  std::string_view flags(flag_chars, n);
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 "
      "multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem={} rbs={} rbp=0 obl=0 oll=0 omem={} "
      "tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
      s.id, s.addr, s.laddr, s.fd, s.name, (now.us - s.created.us) / 1'000'000,
      (now.us - s.last_interaction.us) / 1'000'000, flags, s.channels.size(), s.patterns.size(),
      s.in_multi ? static_cast<int64_t>(s.queued.size()) : -1, s.query_buffer_bytes,
      s.query_buffer_capacity - std::min(s.query_buffer_capacity, s.query_buffer_bytes),
      s.queued_bytes, s.query_buffer_capacity, s.out.size(),
      s.query_buffer_capacity + s.out.capacity() + sizeof(Session) + s.queued_bytes,
      s.last_command ? std::string_view(s.last_command->full_name) : std::string_view("NULL"),
      s.user ? std::string_view(s.user->name) : std::string_view("default"), s.protocol(),
      s.lib_name, s.lib_ver);
}

namespace {

// A client's type for CLIENT KILL TYPE and CLIENT LIST TYPE, as Redis
// classifies it: a replica's link, else a client with any subscription
// ("pubsub"), else "normal" (MONITOR clients included). lockd's link to its
// own primary is not a session, so no session is ever "master". Sentinel
// relies on this: its failover transaction sends CLIENT KILL TYPE normal and
// then TYPE pubsub, so that every client, subscribers included, reconnects
// and asks it for the new primary.
enum class ClientType { kNormal, kReplica, kPubsub, kMaster };

std::optional<ClientType> ParseClientType(std::string_view name) {
  if (EqualsIgnoreCase(name, "normal")) return ClientType::kNormal;
  if (EqualsIgnoreCase(name, "replica") || EqualsIgnoreCase(name, "slave")) {
    return ClientType::kReplica;
  }
  if (EqualsIgnoreCase(name, "pubsub")) return ClientType::kPubsub;
  if (EqualsIgnoreCase(name, "master")) return ClientType::kMaster;
  return std::nullopt;
}

ClientType TypeOf(const Session& s) {
  if (s.replica) return ClientType::kReplica;
  if (s.subscribed()) return ClientType::kPubsub;
  return ClientType::kNormal;
}

void CmdClientId(CommandContext& ctx) { ctx.reply().Integer(static_cast<int64_t>(ctx.session.id)); }

void CmdClientSetName(CommandContext& ctx) {
  if (!ValidClientInfo(ctx.argv[2])) return ctx.Error(errors::kBadClientName);
  ctx.session.name = std::string(ctx.argv[2]);
  ctx.reply().Simple("OK");
}

void CmdClientGetName(CommandContext& ctx) {
  if (ctx.session.name.empty()) return ctx.reply().Null();
  ctx.reply().Bulk(ctx.session.name);
}

void CmdClientSetInfo(CommandContext& ctx) {
  std::string_view attr = ctx.argv[2];
  std::string_view value = ctx.argv[3];
  std::string* field;
  if (EqualsIgnoreCase(attr, "lib-name")) {
    field = &ctx.session.lib_name;
  } else if (EqualsIgnoreCase(attr, "lib-ver")) {
    field = &ctx.session.lib_ver;
  } else {
    return ctx.Error(fmt::format(fmt::runtime(errors::kUnrecognizedOptionFormat), attr));
  }
  if (!ValidClientInfo(value)) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kBadClientInfo), attr));
  }
  *field = std::string(value);
  ctx.reply().Simple("OK");
}

void CmdClientList(CommandContext& ctx) {
  // Redis 7.0's forms: no option, TYPE <type>, or ID <id> [<id> ...].
  std::vector<uint64_t> ids;
  bool by_id = false;
  std::optional<ClientType> type;
  if (ctx.argc() == 4 && EqualsIgnoreCase(ctx.argv[2], "type")) {
    type = ParseClientType(ctx.argv[3]);
    if (!type) return ctx.Error(fmt::format(fmt::runtime(errors::kUnknownClientType), ctx.argv[3]));
  } else if (ctx.argc() > 3 && EqualsIgnoreCase(ctx.argv[2], "id")) {
    by_id = true;
    for (size_t i = 3; i < ctx.argc(); ++i) {
      int64_t id;
      // Any integer is an id; those of no client list nothing.
      if (!ParseInt64(ctx.argv[i], &id)) return ctx.Error(errors::kInvalidClientId);
      if (id > 0) ids.push_back(static_cast<uint64_t>(id));
    }
  } else if (ctx.argc() != 2) {
    return ctx.Error(errors::kSyntax);
  }
  std::string out;
  ctx.server().ForEachSession([&](Session& s) {
    if (by_id && std::find(ids.begin(), ids.end(), s.id) == ids.end()) return;
    if (type && TypeOf(s) != *type) return;
    out += DescribeClient(s, ctx.now);
    out += '\n';
  });
  ctx.reply().Verbatim(out);
}

void CmdClientInfo(CommandContext& ctx) {
  ctx.reply().Verbatim(DescribeClient(ctx.session, ctx.now) + "\n");
}

void CmdClientKill(CommandContext& ctx) {
  // Old form: CLIENT KILL ip:port.
  if (ctx.argc() == 3) {
    Session* target = nullptr;
    ctx.server().ForEachSession([&](Session& s) {
      if (target == nullptr && s.addr == ctx.argv[2]) target = &s;
    });
    if (target == nullptr) return ctx.Error(errors::kNoSuchClient);
    ctx.server().KillSession(*target);
    return ctx.reply().Simple("OK");
  }
  // New form: filters, all of which must match; replies the count.
  if ((ctx.argc() - 2) % 2 != 0) return ctx.Error(errors::kSyntax);
  std::optional<uint64_t> id;
  std::optional<std::string_view> addr, laddr;
  bool skipme = true;
  std::optional<ClientType> type;
  const acl::User* user = nullptr;  // USER name
  for (size_t i = 2; i + 1 < ctx.argc(); i += 2) {
    std::string_view opt = ctx.argv[i], value = ctx.argv[i + 1];
    if (EqualsIgnoreCase(opt, "id")) {
      int64_t v;
      if (!ParseInt64(value, &v) || v < 1) return ctx.Error("ERR client-id should be greater than 0");
      id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(opt, "addr")) {
      addr = value;
    } else if (EqualsIgnoreCase(opt, "laddr")) {
      laddr = value;
    } else if (EqualsIgnoreCase(opt, "user")) {
      acl::User* u = ctx.commands.acl().Find(value);
      if (u == nullptr) {
        return ctx.Error(fmt::format(fmt::runtime(errors::kNoSuchUserFormat), value));
      }
      user = u;
    } else if (EqualsIgnoreCase(opt, "skipme")) {
      if (EqualsIgnoreCase(value, "yes")) {
        skipme = true;
      } else if (EqualsIgnoreCase(value, "no")) {
        skipme = false;
      } else {
        return ctx.Error(errors::kSyntax);
      }
    } else if (EqualsIgnoreCase(opt, "type")) {
      type = ParseClientType(value);
      if (!type) return ctx.Error(fmt::format(fmt::runtime(errors::kUnknownClientType), value));
    } else {
      return ctx.Error(errors::kSyntax);
    }
  }
  std::vector<Session*> victims;
  ctx.server().ForEachSession([&](Session& s) {
    if (type && TypeOf(s) != *type) return;
    if (id && s.id != *id) return;
    if (addr && s.addr != *addr) return;
    if (laddr && s.laddr != *laddr) return;
    if (user && &ctx.commands.UserOf(s) != user) return;
    if (skipme && &s == &ctx.session) return;
    victims.push_back(&s);
  });
  for (Session* s : victims) ctx.server().KillSession(*s);
  ctx.reply().Integer(static_cast<int64_t>(victims.size()));
}

void CmdClientUnblock(CommandContext& ctx) {
  // Redis's table allows any count from 3, then its handler takes 3 or 4.
  if (ctx.argc() > 4) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat), ctx.argv[1],
                                 "CLIENT"));
  }
  int64_t id;
  if (!ParseInt64(ctx.argv[2], &id)) return ctx.Error(errors::kNotInteger);
  bool with_error = false;
  if (ctx.argc() == 4) {
    if (EqualsIgnoreCase(ctx.argv[3], "error")) {
      with_error = true;
    } else if (!EqualsIgnoreCase(ctx.argv[3], "timeout")) {
      return ctx.Error(errors::kUnblockReason);
    }
  }
  Session* target = id > 0 ? ctx.server().FindSession(static_cast<uint64_t>(id)) : nullptr;
  bool unblocked = target != nullptr && ctx.commands.Unblock(*target, with_error);
  ctx.reply().Integer(unblocked ? 1 : 0);
}

void SetOnOff(CommandContext& ctx, bool* flag) {
  if (EqualsIgnoreCase(ctx.argv[2], "on")) {
    *flag = true;
  } else if (EqualsIgnoreCase(ctx.argv[2], "off")) {
    *flag = false;
  } else {
    return ctx.Error(errors::kSyntax);
  }
  ctx.reply().Simple("OK");
}

void CmdClientNoEvict(CommandContext& ctx) { SetOnOff(ctx, &ctx.session.no_evict); }
void CmdClientNoTouch(CommandContext& ctx) { SetOnOff(ctx, &ctx.session.no_touch); }

void CmdClientHelp(CommandContext& ctx) {
  static const char* const kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
      "    USER <username>, TYPE normal|master|replica|pubsub, SKIPME (YES|NO).",
      "LIST [options ...]",
      // One literal per line: adjacent literals in this array would look
      // like a missing comma.
      "    Return information about client connections. Options: TYPE (NORMAL|MASTER|REPLICA|PUBSUB), ID id [id ...].",
      "UNBLOCK <clientid> [TIMEOUT|ERROR]",
      "    Unblock the specified blocked client.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "SETINFO <LIB-NAME|LIB-VER> <value>",
      "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
      "NO-EVICT (ON|OFF)",
      "    Accepted for compatibility; lockd never evicts clients.",
      "NO-TOUCH (ON|OFF)",
      "    Accepted for compatibility; lockd keeps no access times.",
      "HELP",
      "    Print this help.",
  };
  ctx.Help(kLines);
}

void CmdClient(CommandContext& ctx) {
  // Only reached with no subcommand, which the arity check already refuses.
  ctx.Error(errors::kSyntax);
}

ArgDoc Arg(const char* name, const char* type, uint8_t flags = 0) {
  return ArgDoc{.name = name, .type = type, .flags = flags};
}

CommandSpec Sub(const char* name, int arity, CommandHandler handler, const char* summary,
                std::vector<ArgDoc> args = {}, uint32_t flags = kCmdNoScript | kCmdLoading | kCmdStale) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = {"@slow", "@connection"},
      .summary = summary,
      .since = "2.4.0",
      .group = "connection",
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

CommandSpec Connection(const char* name, int arity, uint32_t flags, CommandHandler handler,
                       const char* summary, std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = {"@fast", "@connection"},
      .summary = summary,
      .since = "1.0.0",
      .group = "connection",
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

}  // namespace


void AddConnectionCommands(std::vector<CommandSpec>* out) {
  const uint32_t kConnFlags = kCmdNoScript | kCmdNoAuth | kCmdAllowBusy | kCmdFast;
  out->push_back(Connection("ping", -1, kCmdFast | kCmdRevealsNoState, CmdPing, "Returns the server's liveliness response",
                            {Arg("message", "string", ArgDoc::kOptional)}));
  out->push_back(Connection("echo", 2, kCmdFast | kCmdLoading | kCmdStale | kCmdRevealsNoState,
                            CmdEcho,
                            "Returns the given string", {Arg("message", "string")}));
  out->push_back(Connection("quit", -1, kConnFlags | kCmdLoading | kCmdStale, CmdQuit,
                            "Closes the connection"));
  out->push_back(Connection("reset", 1, kConnFlags | kCmdLoading | kCmdStale, CmdReset,
                            "Resets the connection"));
  out->push_back(Connection("select", 2, kCmdLoading | kCmdStale | kCmdFast, CmdSelect,
                            "Changes the selected database (only 0 exists)",
                            {Arg("index", "integer")}));
  out->push_back(Connection("auth", -2, kConnFlags | kCmdLoading | kCmdStale, CmdAuth,
                            "Authenticates the connection",
                            {ArgDoc{.name = "username", .type = "string", .flags = ArgDoc::kOptional},
                             Arg("password", "string")}));
  out->push_back(Connection(
      "hello", -1, kConnFlags | kCmdLoading | kCmdStale, CmdHello,
      "Handshakes with the server",
      {ArgDoc{.name = "arguments", .type = "block", .flags = ArgDoc::kOptional,
              .args = {Arg("protover", "integer"),
                       ArgDoc{.name = "username_password", .type = "block", .token = "AUTH",
                              .flags = ArgDoc::kOptional,
                              .args = {Arg("username", "string"), Arg("password", "string")}},
                       ArgDoc{.name = "clientname", .type = "string", .token = "SETNAME",
                              .flags = ArgDoc::kOptional}}}}));

  CommandSpec client{
      .name = "client",
      .arity = -2,
      .handler = CmdClient,
      .acl_categories = {"@slow"},
      .summary = "A container for client connection commands",
      .since = "2.4.0",
      .group = "connection",
      .complexity = "Depends on subcommand.",
  };
  const uint32_t kAdmin = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale;
  client.subcommands = {
      Sub("id", 2, CmdClientId, "Returns the unique client ID of the connection"),
      Sub("setname", 3, CmdClientSetName, "Sets the connection name",
          {Arg("connection-name", "string")}),
      Sub("getname", 2, CmdClientGetName, "Returns the name of the connection"),
      Sub("setinfo", 4, CmdClientSetInfo, "Sets information specific to the client or connection",
          {ArgDoc{.name = "attr", .type = "oneof",
                  .args = {ArgDoc{.name = "libname", .type = "string", .token = "LIB-NAME"},
                           ArgDoc{.name = "libver", .type = "string", .token = "LIB-VER"}}}}),
      Sub("list", -2, CmdClientList, "Lists open connections",
          {ArgDoc{.name = "client-type", .type = "oneof", .token = "TYPE", .flags = ArgDoc::kOptional,
                  .args = {ArgDoc{.name = "normal", .type = "pure-token", .token = "NORMAL"},
                           ArgDoc{.name = "master", .type = "pure-token", .token = "MASTER"},
                           ArgDoc{.name = "replica", .type = "pure-token", .token = "REPLICA"},
                           ArgDoc{.name = "pubsub", .type = "pure-token", .token = "PUBSUB"}}},
           ArgDoc{.name = "client-id", .type = "integer", .token = "ID",
                  .flags = ArgDoc::kOptional | ArgDoc::kMultiple}},
          kAdmin),
      Sub("info", 2, CmdClientInfo, "Returns information about the connection"),
      Sub("kill", -3, CmdClientKill, "Terminates open connections",
          {ArgDoc{.name = "filter", .type = "oneof",
                  .args = {ArgDoc{.name = "old-format", .type = "string"},
                           ArgDoc{.name = "new-format", .type = "oneof",
                                  .flags = ArgDoc::kMultiple,
                                  .args = {ArgDoc{.name = "client-id", .type = "integer",
                                                  .token = "ID", .flags = ArgDoc::kOptional},
                                           ArgDoc{.name = "ip:port", .type = "string",
                                                  .token = "ADDR", .flags = ArgDoc::kOptional},
                                           ArgDoc{.name = "ip:port", .type = "string",
                                                  .token = "LADDR", .flags = ArgDoc::kOptional},
                                           ArgDoc{.name = "username", .type = "string",
                                                  .token = "USER", .flags = ArgDoc::kOptional},
                                           ArgDoc{.name = "yes/no", .type = "string",
                                                  .token = "SKIPME",
                                                  .flags = ArgDoc::kOptional}}}}}},
          kAdmin),
      Sub("unblock", -3, CmdClientUnblock, "Unblocks a client blocked by a blocking command",
          {Arg("client-id", "integer"),
           ArgDoc{.name = "unblock-type", .type = "oneof", .flags = ArgDoc::kOptional,
                  .args = {ArgDoc{.name = "timeout", .type = "pure-token", .token = "TIMEOUT"},
                           ArgDoc{.name = "error", .type = "pure-token", .token = "ERROR"}}}},
          kAdmin),
      Sub("no-evict", 3, CmdClientNoEvict, "Sets the client eviction mode of the connection",
          {ArgDoc{.name = "enabled", .type = "oneof",
                  .args = {ArgDoc{.name = "on", .type = "pure-token", .token = "ON"},
                           ArgDoc{.name = "off", .type = "pure-token", .token = "OFF"}}}},
          kAdmin),
      Sub("no-touch", 3, CmdClientNoTouch, "Controls whether commands sent by the client affect "
          "the LRU/LFU of accessed keys",
          {ArgDoc{.name = "enabled", .type = "oneof",
                  .args = {ArgDoc{.name = "on", .type = "pure-token", .token = "ON"},
                           ArgDoc{.name = "off", .type = "pure-token", .token = "OFF"}}}}),
      Sub("help", 2, CmdClientHelp, "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(client));
}

}  // namespace lockd
