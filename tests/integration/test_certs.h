// Certificates for the TLS tests, made once per test binary with the
// `openssl` tool in a temporary directory (removed at exit): a CA, server
// certificates it signed (for localhost and 127.0.0.1, as curl checks), a
// client certificate, an expired one, and another CA with a certificate of
// its own.
#pragma once

#include <string>

namespace lockd_test {

struct TestCertificates {
  std::string dir;
  std::string ca, other_ca;
  std::string server_crt, server_key, server2_crt;
  std::string client_crt, client_key;
  std::string expired_crt, expired_key;
  std::string stranger_crt, stranger_key;  // signed by other_ca
  bool ok = false;                         // false when openssl failed
};

const TestCertificates& TestCerts();

}  // namespace lockd_test
