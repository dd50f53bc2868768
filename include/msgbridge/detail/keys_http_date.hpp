// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail::key_policy {

// Proleptic Gregorian calendar <-> days since 1970-01-01 (Howard Hinnant's
// well-known algorithms, re-derived here). Needed because C++17 has no
// calendar, and timegm/gmtime_r are POSIX-only and not constexpr.
constexpr std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto year_of_era = static_cast<std::uint64_t>(year - era * 400);
    const std::uint64_t month_from_march = month > 2 ? month - 3 : month + 9;
    const std::uint64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    const std::uint64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct civil_date {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

constexpr civil_date civil_from_days(std::int64_t days) noexcept {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto day_of_era = static_cast<std::uint64_t>(days - era * 146097);
    const std::uint64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const std::uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::uint64_t month_from_march = (5 * day_of_year + 2) / 153;
    const auto day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    const auto month = static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
    return civil_date{year, month, day};
}

constexpr unsigned days_in_month(std::int64_t year, unsigned month) noexcept {
    constexpr unsigned lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : lengths[month - 1];
}

// A forward-only reader over one header value; every step either consumes
// exactly what it expects or fails, so a malformed date can never be half-read.
class date_reader {
public:
    explicit date_reader(std::string_view text) noexcept : text_(text) {}

    bool at_end() const noexcept { return pos_ == text_.size(); }
    bool peek(char c) const noexcept { return pos_ < text_.size() && text_[pos_] == c; }

    bool literal(char c) noexcept {
        if (!peek(c)) return false;
        ++pos_;
        return true;
    }

    bool literal(std::string_view word) noexcept {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    // Day names are informative only (RFC 9110 §5.6.7 lets recipients
    // ignore them), so any run of letters is accepted.
    bool letters() noexcept {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && is_letter(text_[pos_])) ++pos_;
        return pos_ > start;
    }

    bool digits(std::size_t count, unsigned& value) noexcept {
        if (text_.size() - pos_ < count) return false;
        unsigned parsed = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const char c = text_[pos_ + i];
            if (c < '0' || c > '9') return false;
            parsed = parsed * 10 + static_cast<unsigned>(c - '0');
        }
        pos_ += count;
        value = parsed;
        return true;
    }

    bool month(unsigned& value) noexcept {
        constexpr std::string_view names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        for (unsigned i = 0; i < 12; ++i) {
            if (literal(names[i])) {
                value = i + 1;
                return true;
            }
        }
        return false;
    }

    bool time_of_day(unsigned& hour, unsigned& minute, unsigned& second) noexcept {
        return digits(2, hour) && literal(':') && digits(2, minute) && literal(':') && digits(2, second);
    }

private:
    static bool is_letter(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

    std::string_view text_;
    std::size_t pos_ = 0;
};

struct http_date_fields {
    std::int64_t year = 0;
    unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
inline bool read_imf_fixdate(std::string_view text, http_date_fields& f) noexcept {
    date_reader r(text);
    unsigned year = 0;
    const bool ok = r.letters() && r.literal(", ") && r.digits(2, f.day) && r.literal(' ') && r.month(f.month) &&
                    r.literal(' ') && r.digits(4, year) && r.literal(' ') &&
                    r.time_of_day(f.hour, f.minute, f.second) && r.literal(" GMT") && r.at_end();
    f.year = year;
    return ok;
}

// Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". Recipients must still
// accept it; a two-digit year more than 50 years ahead of `now_year` is
// taken as the most recent past year with those digits (RFC 9110 §5.6.7),
// so the year lands in (now_year - 50, now_year + 50].
inline bool read_rfc850_date(std::string_view text, std::int64_t now_year, http_date_fields& f) noexcept {
    date_reader r(text);
    unsigned short_year = 0;
    const bool ok = r.letters() && r.literal(", ") && r.digits(2, f.day) && r.literal('-') && r.month(f.month) &&
                    r.literal('-') && r.digits(2, short_year) && r.literal(' ') &&
                    r.time_of_day(f.hour, f.minute, f.second) && r.literal(" GMT") && r.at_end();
    if (!ok) return false;
    std::int64_t year = now_year - now_year % 100 + short_year;
    if (year > now_year + 50) {
        year -= 100;
    } else if (year <= now_year - 50) {
        year += 100;
    }
    f.year = year;
    return true;
}

// Obsolete asctime(): "Sun Nov  6 08:49:37 1994" (day padded with a space).
inline bool read_asctime_date(std::string_view text, http_date_fields& f) noexcept {
    date_reader r(text);
    unsigned year = 0;
    bool ok = r.letters() && r.literal(' ') && r.month(f.month) && r.literal(' ');
    if (ok && r.literal(' ')) {
        ok = r.digits(1, f.day);
    } else if (ok) {
        ok = r.digits(2, f.day);
    }
    ok = ok && r.literal(' ') && r.time_of_day(f.hour, f.minute, f.second) && r.literal(' ') &&
         r.digits(4, year) && r.at_end();
    f.year = year;
    return ok;
}

// Any of the three HTTP-date forms, as a point in UTC. Leap second 60 is
// read as 59: a one-second difference does not matter for a retry delay.
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(
    std::string_view text, std::chrono::system_clock::time_point now) noexcept {
    const std::int64_t now_seconds = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::int64_t now_days = now_seconds / 86400 - (now_seconds % 86400 < 0 ? 1 : 0);
    http_date_fields f;
    const bool ok = read_imf_fixdate(text, f) || read_rfc850_date(text, civil_from_days(now_days).year, f) ||
                    read_asctime_date(text, f);
    if (!ok) return std::nullopt;
    if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > days_in_month(f.year, f.month) || f.hour > 23 ||
        f.minute > 59 || f.second > 60) {
        return std::nullopt;
    }
    if (f.second == 60) f.second = 59;
    const std::int64_t seconds = days_from_civil(f.year, f.month, f.day) * 86400 + f.hour * 3600 +
                                 f.minute * 60 + f.second;
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::seconds(seconds)));
}

// RFC 3339 in UTC with seconds, e.g. "2026-11-25T00:00:00Z", for status
// pages. Written by hand: std::gmtime is not thread-safe.
inline void append_rfc3339(std::chrono::system_clock::time_point when, std::string& out) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(when.time_since_epoch()).count();
    std::int64_t days = seconds / 86400;
    std::int64_t rest = seconds % 86400;
    if (rest < 0) {
        rest += 86400;
        --days;
    }
    const civil_date date = civil_from_days(days);
    auto two = [&out](std::int64_t value) {
        out.push_back(static_cast<char>('0' + value / 10));
        out.push_back(static_cast<char>('0' + value % 10));
    };
    std::string year = std::to_string(date.year);
    if (year.size() < 4) year.insert(0, 4 - year.size(), '0');
    out += year;
    out.push_back('-');
    two(date.month);
    out.push_back('-');
    two(date.day);
    out.push_back('T');
    two(rest / 3600);
    out.push_back(':');
    two(rest / 60 % 60);
    out.push_back(':');
    two(rest % 60);
    out.push_back('Z');
}

}  // namespace detail::key_policy
MSGBRIDGE_END_NAMESPACE
