// HTTPS upstreams: verified against the trust store, with a certificate
// made at test time by the openssl command line tool.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "support/mock_upstream.hpp"

namespace {

// A throwaway CA and a server certificate it signed for 127.0.0.1.
struct test_pki {
    std::string dir;
    std::string ca_cert, server_cert, server_key;
    bool ok = false;

    test_pki() {
        char tmpl[] = "/tmp/server_tls_XXXXXX";
        if (mkdtemp(tmpl) == nullptr) return;
        dir = tmpl;
        ca_cert = dir + "/ca.crt";
        server_cert = dir + "/server.crt";
        server_key = dir + "/server.key";
        std::ofstream(dir + "/ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                           "basicConstraints=CA:FALSE\n";
        const std::string q = " >/dev/null 2>&1";
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        ok = std::system(("openssl req -x509" + ec + " -keyout " + dir + "/ca.key -out " + ca_cert +
                          " -days 2 -subj '/CN=msgbridge test CA'"
                          " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign" + q)
                             .c_str()) == 0 &&
             std::system(("openssl req" + ec + " -keyout " + server_key + " -out " + dir +
                          "/server.csr -subj '/CN=127.0.0.1'" + q)
                             .c_str()) == 0 &&
             std::system(("openssl x509 -req -in " + dir + "/server.csr -CA " + ca_cert + " -CAkey " + dir +
                          "/ca.key -CAcreateserial -out " + server_cert + " -days 2 -extfile " + dir + "/ext.cnf" + q)
                             .c_str()) == 0;
    }
    ~test_pki() {
        if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
    }
};

}  // namespace

TEST_CASE("tls: an HTTPS upstream with a trusted certificate works", "[server][tls]") {
    test_pki pki;
    REQUIRE(pki.ok);
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("over tls")); },
                      pki.server_cert, pki.server_key);
    REQUIRE(up.url().rfind("https://", 0) == 0);
    auto cfg = mock::test_config(up.url(), {"nvapi-tls-test-key-00000001"});
    cfg.ca_cert_file = pki.ca_cert;  // UPSTREAM_CA_FILE: trust our test CA
    mock::running_proxy proxy(cfg);
    for (int i = 0; i < 3; ++i) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body.find("over tls") != std::string::npos);
    }
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(streamed.status == 200);
    auto seen = up.requests();
    REQUIRE(seen.size() == 4);
    // One TLS connection, reused: no handshake per request.
    for (const auto& r : seen) CHECK(r.remote_port == seen[0].remote_port);
}

TEST_CASE("tls: an untrusted upstream certificate is a clear 502", "[server][tls]") {
    test_pki pki;
    REQUIRE(pki.ok);
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("never")); },
                      pki.server_cert, pki.server_key);
    // The system store does not know the test CA.
    mock::running_proxy proxy(mock::test_config(up.url(), {"nvapi-tls-test-key-00000001"}));
    for (bool stream : {false, true}) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
        REQUIRE(res);
        CHECK(res->status == 502);
        CHECK(res->body.find(R"("type":"error")") != std::string::npos);
        CHECK(res->body.find("api_error") != std::string::npos);
        CHECK(res->body.find("certificate verification failed") != std::string::npos);
    }
    // The handshake failed, so no request ever reached the upstream's handler.
    CHECK(up.requests().empty());
    CHECK(proxy.log_text().find("nvapi-tls-test-key-00000001") == std::string::npos);
}
