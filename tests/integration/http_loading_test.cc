// GET /healthz while the log loads: a load balancer must see 503 "loading"
// until the server can serve, then 200, and the HTTP API must refuse lock
// requests with 503 meanwhile rather than answer from a half-loaded table.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "harness.h"

using namespace lockd_test;

namespace {

std::string Healthz(int port) {
  return HttpOnce(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

int64_t UnixMsNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("http: /healthz is 503 while the log loads, then 200; lock requests wait for the load") {
  // A log long enough to take a noticeable time to load: 1,500,000 grants.
  ScratchDir dir;
  constexpr int kLeases = 1500000;
  const std::string pxat = std::to_string(UnixMsNow() + 600000);
  {
    std::string bytes;
    bytes.reserve(static_cast<size_t>(kLeases) * 80);
    for (int i = 1; i <= kLeases; ++i) {
      bytes += Multibulk({"LOCK.GRANT", "key:" + std::to_string(i), "h", std::to_string(i), pxat});
    }
    std::ofstream(dir.path + "/appendonly.aof", std::ios::binary) << bytes;
  }
  const int http_port = FreePort();
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.wait_until_loaded = false;
  options.extra = {"--http-port", std::to_string(http_port)};
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());

  auto c = srv.Connect();
  REQUIRE(c->ok());
  // The HTTP checks run between two refused RESP commands, so they ran
  // while the load did; if the load ended sooner the case proves nothing.
  Reply before = c->Cmd({"LOCK.FENCE", "key:5"});
  std::string during = Healthz(http_port);
  const std::string body = R"({"key":"key:7","holder":"x","ttl_ms":10})";
  std::string acquire = HttpOnce(http_port,
                                 "POST /v1/acquire HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  Reply after = c->Cmd({"LOCK.FENCE", "key:5"});
  REQUIRE_MESSAGE(before.is_error(), "the load was over before the checks: ", before.Describe());
  REQUIRE_MESSAGE(after.is_error(), "the load was over during the checks: ", after.Describe());
  CHECK_MESSAGE(during.rfind("HTTP/1.1 503", 0) == 0, during);
  CHECK_MESSAGE(during.find("loading") != std::string::npos, during);
  // An acquire during the load is refused (503), never granted from a table
  // that does not hold key:7's lease yet.
  CHECK_MESSAGE(acquire.rfind("HTTP/1.1 503", 0) == 0, acquire);

  bool healthy = WaitFor([&] { return Healthz(http_port).rfind("HTTP/1.1 200", 0) == 0; }, 20000, 20);
  REQUIRE(healthy);
  CHECK(c->Cmd({"LOCK.FENCE", "key:7"}).integer() == 7);
}
