// REDIS_URL as the proxy reads it (docs/scale-out.md): the parts, and the
// URLs it refuses at start without ever printing the password.
#include <catch2/catch.hpp>

#include "config.hpp"
#include "support/config_test_support.hpp"

using config_test::error_of;
using proxy::parse_redis_url;

TEST_CASE("redis url: host, port, credentials and database", "[server][config]") {
    SECTION("defaults: port 6379, db 0, no AUTH") {
        const auto endpoint = parse_redis_url("redis://cache.internal");
        CHECK(endpoint.host == "cache.internal");
        CHECK(endpoint.port == 6379);
        CHECK(endpoint.db == 0);
        CHECK(endpoint.password.empty());
    }
    SECTION("an ACL user, a password, a port and a db; the shown URL hides both credentials") {
        const auto endpoint = parse_redis_url("redis://proxy:pa55-word@10.0.0.5:6380/3");
        CHECK(endpoint.user == "proxy");
        CHECK(endpoint.password == "pa55-word");
        CHECK(endpoint.host == "10.0.0.5");
        CHECK(endpoint.port == 6380);
        CHECK(endpoint.db == 3);
        CHECK(endpoint.shown == "redis://***@10.0.0.5:6380/3");
    }
    SECTION("a password alone, as redis-cli -u reads it; an IPv6 host") {
        CHECK(parse_redis_url("redis://:secret@[::1]:7000").password == "secret");
        CHECK(parse_redis_url("redis://:secret@[::1]:7000").host == "::1");
        CHECK(parse_redis_url("redis://secret@host").password == "secret");
    }
}

TEST_CASE("redis url: refused at start, naming the setting and never the password", "[server][config]") {
    const std::string tls = error_of([] { (void)parse_redis_url("rediss://:hunter2-pass@host:6380"); });
    CHECK(tls.find("REDIS_URL") != std::string::npos);
    CHECK(tls.find("hiredis 0.14") != std::string::npos);
    CHECK(tls.find("hunter2") == std::string::npos);
    CHECK(error_of([] { (void)parse_redis_url("http://host"); }).find("expected redis://") != std::string::npos);
    CHECK(error_of([] { (void)parse_redis_url("redis://:pw@:6379"); }).find("no host") != std::string::npos);
    CHECK(error_of([] { (void)parse_redis_url("redis://host:0"); }).find("port") != std::string::npos);
    CHECK(error_of([] { (void)parse_redis_url("redis://host:99999"); }).find("port") != std::string::npos);
    CHECK(error_of([] { (void)parse_redis_url("redis://host/16"); }).find("database") != std::string::npos);
}
