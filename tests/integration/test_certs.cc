#include "test_certs.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace lockd_test {

const TestCertificates& TestCerts() {
  static const TestCertificates certs = [] {
    TestCertificates c;
    char tmpl[] = "/tmp/lockd-tls-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return c;
    c.dir = tmpl;
    // EC keys: quick to make and to use.
    const std::string script = "cd " + c.dir +
                               " && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
                               " && openssl req -x509 $K -keyout ca.key -out ca.crt -days 30"
                               "    -subj /CN=lockd-test-ca"
                               " && openssl req -x509 $K -keyout other-ca.key -out other-ca.crt"
                               "    -days 30 -subj /CN=other-ca"
                               " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
                               " && sign() { openssl req $K -keyout $1.key -out $1.csr -subj /CN=$1"
                               "    && openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key"
                               "       -CAcreateserial -out $1.crt -days $3 $4; }"
                               " && sign server ca 30 '-extfile san.ext'"
                               " && sign server2 ca 30 '-extfile san.ext'"
                               " && sign client ca 30 ''"
                               " && sign expired ca -1 ''"
                               " && sign stranger other-ca 30 ''";
    if (std::system(("(" + script + ") >" + c.dir + "/openssl.log 2>&1").c_str()) != 0) return c;
    c.ca = c.dir + "/ca.crt";
    c.other_ca = c.dir + "/other-ca.crt";
    c.server_crt = c.dir + "/server.crt";
    c.server_key = c.dir + "/server.key";
    c.server2_crt = c.dir + "/server2.crt";
    c.client_crt = c.dir + "/client.crt";
    c.client_key = c.dir + "/client.key";
    c.expired_crt = c.dir + "/expired.crt";
    c.expired_key = c.dir + "/expired.key";
    c.stranger_crt = c.dir + "/stranger.crt";
    c.stranger_key = c.dir + "/stranger.key";
    c.ok = std::filesystem::exists(c.stranger_crt) && std::filesystem::exists(c.server2_crt);
    return c;
  }();
  // Removed when the test binary exits.
  struct Remover {
    std::string dir;
    ~Remover() {
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
    }
  };
  static const Remover remover{certs.dir};
  return certs;
}

}  // namespace lockd_test
