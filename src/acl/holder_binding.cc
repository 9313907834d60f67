// The stored form of a bound holder; see holder_binding.h.
#include "acl/holder_binding.h"

namespace lockd::acl {

std::string_view BindHolder(std::string_view user, std::string_view holder, std::string* buf) {
  buf->clear();
  buf->reserve(user.size() + holder.size() + 2);
  buf->push_back('\0');
  buf->append(user);
  buf->push_back('\0');
  buf->append(holder);
  return *buf;
}

bool BoundUser(std::string_view stored, std::string_view* user) {
  if (stored.empty() || stored[0] != '\0') return false;
  size_t end = stored.find('\0', 1);
  if (end == std::string_view::npos) return false;
  *user = stored.substr(1, end - 1);
  return true;
}

std::string_view VisibleHolder(std::string_view stored) {
  std::string_view user;
  if (!BoundUser(stored, &user)) return stored;
  return stored.substr(user.size() + 2);
}

}  // namespace lockd::acl
