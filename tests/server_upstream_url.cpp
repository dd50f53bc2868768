// The one parser of the upstream URL: what load_config checks, what the
// transport connects to, and how error messages name the upstream.
#include <catch2/catch.hpp>

#include <string>

#include "config.hpp"
#include "support/config_test_support.hpp"

using proxy::parse_upstream_url;

namespace {
std::string refusal_of(const std::string& url) {
    return config_test::error_of([&] { (void)parse_upstream_url(url); });
}
}  // namespace

TEST_CASE("upstream URL: the parts of a good URL", "[server][config]") {
    SECTION("no port: the scheme's default, and the authority as written") {
        const auto https = parse_upstream_url("https://integrate.api.nvidia.com/v1/chat/completions");
        CHECK(https.scheme == "https");
        CHECK(https.https());
        CHECK(https.host == "integrate.api.nvidia.com");
        CHECK(https.port == 443);
        CHECK(https.authority == "integrate.api.nvidia.com");
        CHECK(https.path == "/v1/chat/completions");
        const auto http = parse_upstream_url("http://localhost/v1");
        CHECK_FALSE(http.https());
        CHECK(http.port == 80);
    }
    SECTION("IPv6 keeps its brackets, with or without a port") {
        const auto with_port = parse_upstream_url("http://[::1]:8080/v1/chat/completions");
        CHECK(with_port.host == "[::1]");
        CHECK(with_port.port == 8080);
        CHECK(with_port.authority == "[::1]:8080");
        const auto without = parse_upstream_url("https://[2001:db8::5]/v1");
        CHECK(without.host == "[2001:db8::5]");
        CHECK(without.port == 443);
    }
    SECTION("ports 1 and 65535 are the bounds") {
        CHECK(parse_upstream_url("http://h:1/v1").port == 1);
        CHECK(parse_upstream_url("http://h:65535/v1").port == 65535);
    }
    SECTION("the path keeps its query, gains a leading / when it has none, and drops the fragment") {
        CHECK(parse_upstream_url("https://h/openai/deployments/x/chat/completions?api-version=2024-06-01").path ==
              "/openai/deployments/x/chat/completions?api-version=2024-06-01");
        CHECK(parse_upstream_url("https://h").path == "/");
        CHECK(parse_upstream_url("https://h:8443?mode=chat").path == "/?mode=chat");
        CHECK(parse_upstream_url("https://h:8443?mode=chat").authority == "h:8443");
        CHECK(parse_upstream_url("https://h/v1#notes").path == "/v1");
    }
}

TEST_CASE("upstream URL: what is refused, and how it is named", "[server][config]") {
    SECTION("ports 0 and 65536 and beyond, and non-digits, instead of wrapping") {
        for (const char* url : {"http://h:0/v1", "http://h:65536/v1", "http://[::1]:99999/v1", "http://h:8o/v1"}) {
            INFO(url);
            CHECK(refusal_of(url) == "UPSTREAM_URL/nvidia_url: '" + std::string(url) + "' has an invalid port (1-65535)");
        }
        CHECK(refusal_of("http://h:/v1") == "UPSTREAM_URL/nvidia_url: 'http://h:/v1' has an empty port");
    }
    SECTION("user:password@, shown masked") {
        const auto message = refusal_of("https://user:pw-hunter2@h:443/v1");
        CHECK(message.rfind("UPSTREAM_URL/nvidia_url: 'https://***@h:443/v1' carries credentials", 0) == 0);
        CHECK(message.find("hunter2") == std::string::npos);
    }
    SECTION("another scheme, no host, an unclosed or trailing IPv6 address") {
        CHECK(refusal_of("ftp://h/v1") == "UPSTREAM_URL/nvidia_url: 'ftp://h/v1' is not an http:// or https:// URL");
        CHECK(refusal_of("https:///v1") == "UPSTREAM_URL/nvidia_url: 'https:///v1' has no host");
        CHECK(refusal_of("http://[]:80/v1") == "UPSTREAM_URL/nvidia_url: 'http://[]:80/v1' has no host");
        CHECK(refusal_of("http://[::1/v1") == "UPSTREAM_URL/nvidia_url: 'http://[::1/v1' has an unclosed IPv6 address");
        CHECK(refusal_of("http://[::1]x/v1") == "UPSTREAM_URL/nvidia_url: 'http://[::1]x/v1' has text after the IPv6 address");
    }
}
