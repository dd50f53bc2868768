#include <catch2/catch.hpp>

#include <msgbridge/keys.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

#include "support/keys_test_support.hpp"

using namespace std::chrono_literals;
using msgbridge::parse_retry_after;
using keys_test::rfc_example_time;

namespace {
// -1 stands for "not a Retry-After value", so failures print as numbers.
long long retry_ms(std::string_view value) {
    const auto parsed = parse_retry_after(value, rfc_example_time());
    return parsed ? parsed->count() : -1;
}
}  // namespace

TEST_CASE("retry-after: delta-seconds", "[keys]") {
    CHECK(retry_ms("0") == 0);
    CHECK(retry_ms("120") == 120000);
    CHECK(retry_ms(" 7 \r\n") == 7000);
    CHECK(retry_ms("007") == 7000);
    SECTION("a fraction is accepted, rounded up to the millisecond") {
        CHECK(retry_ms("1.5") == 1500);
        CHECK(retry_ms("0.25") == 250);
        CHECK(retry_ms("0.0001") == 1);
        CHECK(retry_ms("2.000") == 2000);
    }
    SECTION("huge values saturate instead of overflowing") {
        CHECK(retry_ms("99999999999999999999999999") == 1'000'000'000'000LL);
    }
    SECTION("anything else is not a Retry-After") {
        for (const char* bad : {"", "  ", "-1", "+5", "5s", "1.", ".5", "1.2.3", "1 2", "0x10", "soon"}) {
            CHECK(retry_ms(bad) == -1);
        }
    }
}

TEST_CASE("retry-after: an HTTP date, in all three RFC 9110 forms", "[keys]") {
    SECTION("IMF-fixdate") {
        CHECK(retry_ms("Sun, 06 Nov 1994 08:49:37 GMT") == 0);
        CHECK(retry_ms("Sun, 06 Nov 1994 08:50:07 GMT") == 30000);
        CHECK(retry_ms("Mon, 07 Nov 1994 08:49:37 GMT") == 86400000);
        CHECK(retry_ms(" Sun, 06 Nov 1994 09:49:37 GMT ") == 3600000);
    }
    SECTION("obsolete RFC 850 with a two-digit year") {
        CHECK(retry_ms("Sunday, 06-Nov-94 08:51:37 GMT") == 120000);
    }
    SECTION("obsolete asctime") {
        CHECK(retry_ms("Sun Nov  6 08:49:47 1994") == 10000);
        CHECK(retry_ms("Sun Nov 16 08:49:37 1994") == 10LL * 86400000);
    }
    SECTION("a date in the past means now") {
        CHECK(retry_ms("Sat, 01 Jan 1994 00:00:00 GMT") == 0);
        CHECK(retry_ms("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    }
    SECTION("month, leap year and year boundaries") {
        const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(951782400));  // 2000-02-29
        CHECK(parse_retry_after("Wed, 01 Mar 2000 00:00:00 GMT", now) == std::chrono::milliseconds(86400000));
        CHECK(parse_retry_after("Tue, 29 Feb 2000 00:00:05 GMT", now) == std::chrono::milliseconds(5000));
        const auto new_year = std::chrono::system_clock::time_point(std::chrono::seconds(1798761599));  // 2026-12-31 23:59:59
        CHECK(parse_retry_after("Fri, 01 Jan 2027 00:00:00 GMT", new_year) == std::chrono::milliseconds(1000));
    }
    SECTION("malformed dates are not a Retry-After") {
        for (const char* bad : {"Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
                                "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1994 08:49:37 GMT",
                                "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                                "Sun, 06 Nov 1994 08:60:00 GMT", "Sun Nov 6 08:49:37 1994", "06 Nov 1994 08:49:37 GMT",
                                "Sun, 06 Nov 1994 08:49:37 GMT trailing"}) {
            CHECK(retry_ms(bad) == -1);
        }
    }
}

TEST_CASE("stats: every outcome is counted, and the JSON shows no key", "[keys]") {
    keys_test::fake_clock clock;
    auto options = keys_test::fake_time_options(clock, msgbridge::rotation::round_robin);
    options.backoff_base = 2s;
    msgbridge::key_pool pool(keys_test::test_keys(2), options);
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        auto c = pool.acquire();
        auto d = pool.acquire();
        a.lease.report(msgbridge::key_outcome::success);
        b.lease.report(msgbridge::key_outcome::auth_failed);
        c.lease.report(msgbridge::key_outcome::rate_limited);
        d.lease.report(msgbridge::key_outcome::transient);
        CHECK(pool.acquire().status == msgbridge::acquire_status::cooling);
        clock.advance(500ms);

        const auto stats = pool.stats();
        REQUIRE(stats.size() == 2);
        CHECK(stats[0].requests == 2);
        CHECK(stats[0].successes == 1);
        CHECK(stats[0].rate_limited == 1);
        CHECK(stats[0].in_flight == 2);
        CHECK(stats[0].cooling_for == 1500ms);
        REQUIRE(stats[0].cooling_until.has_value());
        CHECK(*stats[0].cooling_until - clock.now() == 1500ms);
        CHECK_FALSE(stats[0].quarantined);
        CHECK(stats[1].requests == 2);
        CHECK(stats[1].in_flight == 2);
        CHECK(stats[1].auth_failures == 1);
        CHECK(stats[1].transient_failures == 1);
        CHECK(stats[1].quarantined);
        CHECK(stats[1].last_error_at == rfc_example_time());
        CHECK(stats[0].redacted_id == msgbridge::redact_key(keys_test::test_key(0), 0));
    }
    const auto json = msgbridge::to_json(pool.stats());
    CHECK(json ==
          "[{\"index\":0,\"id\":\"nvapi-\xE2\x80\xA6k000#0\",\"requests\":2,\"in_flight\":0,\"successes\":1,"
          "\"rate_limited\":1,\"auth_failures\":0,\"transient_failures\":0,\"quarantined\":false,"
          "\"cooling_for_ms\":1500,\"last_error_at\":\"1994-11-06T08:49:37Z\"},"
          "{\"index\":1,\"id\":\"nvapi-\xE2\x80\xA6k001#1\",\"requests\":2,\"in_flight\":0,\"successes\":0,"
          "\"rate_limited\":0,\"auth_failures\":1,\"transient_failures\":1,\"quarantined\":true,"
          "\"cooling_for_ms\":4500,\"last_error_at\":\"1994-11-06T08:49:37Z\"}]");
    CHECK_FALSE(keys_test::contains_marker(json));
    CHECK(msgbridge::to_json(std::vector<msgbridge::key_stats>{}) == "[]");
}

TEST_CASE("retry-after: dates from 1970 to 2200 agree with the C library's calendar", "[keys]") {
    // gmtime_r and strftime (POSIX, "C" locale) are the independent oracle
    // for the hand-written calendar arithmetic.
    const auto epoch = std::chrono::system_clock::time_point{};
    std::size_t checked = 0, imf_wrong = 0, rfc850_wrong = 0, asctime_wrong = 0, rfc3339_wrong = 0;
    for (std::int64_t seconds = 0; seconds < std::int64_t{7258118400}; seconds += 86400 * 3 + 3671) {
        const auto when = static_cast<std::time_t>(seconds);
        std::tm parts{};
        gmtime_r(&when, &parts);
        char imf[64], rfc850[64], asc[64], iso[64];
        std::strftime(imf, sizeof imf, "%a, %d %b %Y %H:%M:%S GMT", &parts);
        std::strftime(rfc850, sizeof rfc850, "%A, %d-%b-%y %H:%M:%S GMT", &parts);
        std::strftime(asc, sizeof asc, "%a %b %e %H:%M:%S %Y", &parts);
        std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &parts);
        const auto expected = std::chrono::milliseconds(seconds * 1000);
        ++checked;
        if (parse_retry_after(imf, epoch) != expected) ++imf_wrong;
        if (parse_retry_after(asc, epoch) != expected) ++asctime_wrong;
        // Two-digit years resolve relative to "now": put now 10 years after the date.
        const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(seconds - 86400 * 3650));
        const auto rfc850_parsed = parse_retry_after(rfc850, now);
        if (!rfc850_parsed || *rfc850_parsed != std::chrono::milliseconds(std::int64_t{86400} * 3650 * 1000)) {
            ++rfc850_wrong;
        }
        std::string rendered;
        msgbridge::detail::key_policy::append_rfc3339(
            std::chrono::system_clock::time_point(std::chrono::seconds(seconds)), rendered);
        if (rendered != iso) ++rfc3339_wrong;
    }
    CHECK(checked > 27000);
    CHECK(imf_wrong == 0);
    CHECK(rfc850_wrong == 0);
    CHECK(asctime_wrong == 0);
    CHECK(rfc3339_wrong == 0);
}

TEST_CASE("retry-after: RFC 850 two-digit years land within 50 years of now", "[keys]") {
    const auto in_1995 = std::chrono::system_clock::time_point(std::chrono::seconds(788918400));  // 1995-01-01
    // 2005-01-01 is ten years ahead, not 1905 ninety years back.
    CHECK(parse_retry_after("Saturday, 01-Jan-05 00:00:00 GMT", in_1995) ==
          std::chrono::milliseconds(std::int64_t{315619200} * 1000));
    // 2060 would be 65 years ahead: it is 1960, in the past.
    CHECK(parse_retry_after("Friday, 01-Jan-60 00:00:00 GMT", in_1995) == std::chrono::milliseconds(0));
}
