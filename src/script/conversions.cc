// Conversions between RESP replies and Lua values, both ways, with Redis
// 7.0's rules (script_lua.c): integer ↔ number, bulk ↔ string, nil bulk and
// nil array → false, array ↔ table (cut at the first nil), status ↔ {ok=},
// error ↔ {err=}, and with redis.setresp(3) map, set, double, null, boolean,
// big number and verbatim string. No C++ object with a destructor is alive
// across a Lua call here: a Lua error unwinds with longjmp.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "script/lua_internal.h"
#include "util/errors.h"

namespace lockd::script {

namespace {

// Parses the decimal number in s[pos, eol). The command layer writes plain
// digits with an optional '-' (every bulk length and integer reply): those
// are read in place, since a string copy per value was a good part of a
// short reply's conversion; anything else goes to strtoll as before.
int64_t Number(std::string_view s, size_t pos, size_t eol) {
  size_t i = pos;
  const bool negative = i < eol && s[i] == '-';
  if (negative) ++i;
  if (i < eol && eol - i <= 18) {
    int64_t n = 0;
    for (; i < eol && s[i] >= '0' && s[i] <= '9'; ++i) n = n * 10 + (s[i] - '0');
    if (i == eol) return negative ? -n : n;
  }
  return std::strtoll(std::string(s.substr(pos, eol - pos)).c_str(), nullptr, 10);
}

// Converts the value at s[pos] (complete: the command layer wrote it) and
// returns the position after it. With `push` false the value is skipped
// (RESP3 attributes, which Redis does not show to scripts).
size_t Convert(lua_State* L, std::string_view s, size_t pos, bool push) {
  size_t eol = s.find("\r\n", pos);
  if (eol == std::string_view::npos) eol = s.size();
  size_t next = eol + 2;
  char type = s[pos];
  std::string_view line = s.substr(pos + 1, eol - pos - 1);
  // Redis reserves a few slots per value; a table nests one level per slot
  // at most, so a failure here means an absurd nesting.
  if (push && !lua_checkstack(L, 4)) luaL_error(L, "%s", errors::kLuaStackLimit);
  switch (type) {
    case ':':
      if (push) lua_pushnumber(L, static_cast<lua_Number>(Number(s, pos + 1, eol)));
      return next;
    case '$': {
      int64_t n = Number(s, pos + 1, eol);
      if (n < 0) {
        if (push) lua_pushboolean(L, 0);
        return next;
      }
      if (push) lua_pushlstring(L, s.data() + next, static_cast<size_t>(n));
      return next + static_cast<size_t>(n) + 2;
    }
    case '+':
      if (push) {
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, line.data(), line.size());
        lua_setfield(L, -2, "ok");
      }
      return next;
    case '-':
      if (push) {
        // PushError wants the leading '-', which s still has at pos.
        PushError(L, s.substr(pos, eol - pos));
        // The error was counted when the command replied it.
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "ignore_error_stats_update");
      }
      return next;
    case '*':
    case '~':
    case '%':
    case '>': {
      int64_t n = Number(s, pos + 1, eol);
      if (n < 0) {  // *-1
        if (push) lua_pushboolean(L, 0);
        return next;
      }
      if (type == '%') {
        if (push) {
          lua_createtable(L, 0, 1);
          lua_createtable(L, 0, static_cast<int>(n));
        }
        for (int64_t i = 0; i < n; ++i) {
          next = Convert(L, s, next, push);
          next = Convert(L, s, next, push);
          if (push) lua_settable(L, -3);
        }
        if (push) lua_setfield(L, -2, "map");
        return next;
      }
      if (type == '~') {
        if (push) {
          lua_createtable(L, 0, 1);
          lua_createtable(L, 0, static_cast<int>(n));
        }
        for (int64_t i = 0; i < n; ++i) {
          next = Convert(L, s, next, push);
          if (push) {
            lua_pushboolean(L, 1);
            lua_settable(L, -3);
          }
        }
        if (push) lua_setfield(L, -2, "set");
        return next;
      }
      if (push) lua_createtable(L, static_cast<int>(n), 0);
      for (int64_t i = 0; i < n; ++i) {
        next = Convert(L, s, next, push);
        if (push) lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      return next;
    }
    case '_':
      if (push) lua_pushnil(L);
      return next;
    case '#':
      if (push) lua_pushboolean(L, line == "t");
      return next;
    case ',':
      if (push) {
        lua_createtable(L, 0, 1);
        lua_pushnumber(L, std::strtod(std::string(line).c_str(), nullptr));
        lua_setfield(L, -2, "double");
      }
      return next;
    case '(':
      if (push) {
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, line.data(), line.size());
        lua_setfield(L, -2, "big_number");
      }
      return next;
    case '=': {
      int64_t n = Number(s, pos + 1, eol);
      if (push) {
        std::string_view body = s.substr(next, static_cast<size_t>(n));
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 2);
        std::string_view text = body.size() >= 4 ? body.substr(4) : std::string_view();
        lua_pushlstring(L, text.data(), text.size());
        lua_setfield(L, -2, "string");
        lua_pushlstring(L, body.data(), std::min<size_t>(3, body.size()));
        lua_setfield(L, -2, "format");
        lua_setfield(L, -2, "verbatim_string");
      }
      return next + static_cast<size_t>(n) + 2;
    }
    case '|': {
      int64_t n = Number(s, pos + 1, eol);
      for (int64_t i = 0; i < 2 * n; ++i) next = Convert(L, s, next, false);
      return Convert(L, s, next, push);
    }
    default:
      if (push) lua_pushnil(L);
      return next;
  }
}

// A Lua number as Redis replies it: (long long)n. Out of range and NaN give
// what x86 gives for that cast, without the undefined behaviour.
int64_t Truncate(lua_Number n) {
  if (std::isnan(n) || n >= 9223372036854775808.0 || n < -9223372036854775808.0) {
    return INT64_MIN;
  }
  return static_cast<int64_t>(n);
}

void WriteError(lua_State* L, ReplyWriter* out, CommandBridge* bridge) {
  // Stack: table, its err string.
  size_t len;
  const char* msg = lua_tolstring(L, -1, &len);
  std::string_view text(msg, len);
  out->Error(text);
  lua_getfield(L, -2, "ignore_error_stats_update");
  bool counted = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!counted && bridge != nullptr) bridge->NoteError(text);
}

// Looks up t[name] (raw) for the table on top; leaves it pushed and returns
// its type.
int Field(lua_State* L, const char* name) {
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  return lua_type(L, -1);
}

// The rare shapes are written by functions of their own, so that the frame
// of the recursive WriteValue stays small: a table nested as deep as the Lua
// stack allows must not exhaust the C stack.
[[gnu::noinline]] void WriteBigNumber(lua_State* L, ReplyWriter* out) {
  size_t len;
  const char* s = lua_tolstring(L, -1, &len);
  std::string digits(s, len);
  for (char& c : digits) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  if (out->protocol() >= 3) {
    out->Raw("(");
    out->Raw(digits);
    out->Raw("\r\n");
  } else {
    out->Bulk(digits);
  }
}

// Stack: ..., table, its verbatim_string table. True when it was written
// (the stack is as it was either way).
[[gnu::noinline]] bool WriteVerbatim(lua_State* L, ReplyWriter* out) {
  bool written = false;
  if (Field(L, "format") == LUA_TSTRING) {
    lua_pushstring(L, "string");
    lua_rawget(L, -3);
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t flen, slen;
      const char* format = lua_tolstring(L, -2, &flen);
      const char* s = lua_tolstring(L, -1, &slen);
      if (out->protocol() >= 3) {
        std::string head = "=" + std::to_string(slen + 4) + "\r\n";
        head.append(format, std::min<size_t>(flen, 3));
        head.append(3 - std::min<size_t>(flen, 3), ' ');
        head += ':';
        out->Raw(head);
        out->Raw(std::string_view(s, slen));
        out->Raw("\r\n");
      } else {
        out->Bulk(std::string_view(s, slen));
      }
      written = true;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return written;
}

}  // namespace

void PushError(lua_State* L, std::string_view text) {
  std::string_view code = "ERR";
  std::string_view msg = text;
  if (!text.empty() && text[0] == '-') {
    size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      msg = text.substr(1);
    } else {
      code = text.substr(1, space - 1);
      msg = text.substr(space + 1);
    }
  }
  while (!msg.empty() && (msg.front() == '\r' || msg.front() == '\n')) msg.remove_prefix(1);
  while (!msg.empty() && (msg.back() == '\r' || msg.back() == '\n')) msg.remove_suffix(1);
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, code.data(), code.size());
  lua_pushliteral(L, " ");
  lua_pushlstring(L, msg.data(), msg.size());
  lua_concat(L, 3);
  lua_setfield(L, -2, "err");
}

void PushReply(lua_State* L, std::string_view resp) {
  if (resp.empty()) {
    lua_pushnil(L);
    return;
  }
  Convert(L, resp, 0, true);
}

void WriteValue(lua_State* L, ReplyWriter* out, int script_protocol, CommandBridge* bridge) {
  // A map needs four slots (table, key, value, key copy); deeper nesting
  // than the stack allows ends with Redis's error instead of a crash.
  if (!lua_checkstack(L, 4)) {
    out->Error(errors::kScriptStackLimit);
    if (bridge != nullptr) bridge->NoteError(errors::kScriptStackLimit);
    lua_pop(L, 1);
    return;
  }
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t len;
      const char* s = lua_tolstring(L, -1, &len);
      out->Bulk(std::string_view(s, len));
      break;
    }
    case LUA_TBOOLEAN:
      if (script_protocol == 2) {
        if (lua_toboolean(L, -1)) {
          out->Integer(1);
        } else {
          out->Null();
        }
      } else {
        out->Bool(lua_toboolean(L, -1));
      }
      break;
    case LUA_TNUMBER:
      out->Integer(Truncate(lua_tonumber(L, -1)));
      break;
    case LUA_TTABLE: {
      if (Field(L, "err") == LUA_TSTRING) {
        WriteError(L, out, bridge);
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "ok") == LUA_TSTRING) {
        size_t len;
        const char* s = lua_tolstring(L, -1, &len);
        out->Simple(std::string_view(s, len));
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "double") == LUA_TNUMBER) {
        out->Double(lua_tonumber(L, -1));
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "big_number") == LUA_TSTRING) {
        WriteBigNumber(L, out);
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "verbatim_string") == LUA_TTABLE && WriteVerbatim(L, out)) {
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "map") == LUA_TTABLE) {
        size_t pairs = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          lua_pop(L, 1);
          ++pairs;
        }
        out->Map(pairs);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          lua_pushvalue(L, -2);
          WriteValue(L, out, script_protocol, bridge);  // the key
          WriteValue(L, out, script_protocol, bridge);  // the value
        }
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      if (Field(L, "set") == LUA_TTABLE) {
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          lua_pop(L, 1);
          ++n;
        }
        out->Set(n);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          lua_pop(L, 1);
          lua_pushvalue(L, -1);
          WriteValue(L, out, script_protocol, bridge);
        }
        lua_pop(L, 2);
        return;
      }
      lua_pop(L, 1);
      // An array: elements 1..n up to the first nil.
      size_t n = 0;
      for (;;) {
        lua_rawgeti(L, -1, static_cast<int>(n + 1));
        bool nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) break;
        ++n;
      }
      out->Array(n);
      for (size_t i = 1; i <= n; ++i) {
        lua_rawgeti(L, -1, static_cast<int>(i));
        WriteValue(L, out, script_protocol, bridge);
      }
      break;
    }
    default:
      out->Null();
  }
  lua_pop(L, 1);
}

}  // namespace lockd::script
