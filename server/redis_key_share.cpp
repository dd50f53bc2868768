// SPDX-License-Identifier: MIT
#include "redis_key_share.hpp"

#include <hiredis/hiredis.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sys/time.h>
#include <utility>


namespace proxy {
namespace {

// Every name this proxy writes starts here, so a Redis shared with other
// programs shows whose keys these are.
constexpr std::string_view prefix = "claude-nvidia-proxy:";

std::string state_key(std::string_view id) { return std::string(prefix) + "state:" + std::string(id); }
std::string window_key(std::string_view id) { return std::string(prefix) + "window:" + std::string(id); }
const std::string cursor_key = std::string(prefix) + "cursor";

// The cursor is forgotten a day after instances stop using it: its lifetime
// is set when it is created and renewed every 1024 turns.
constexpr const char* cursor_lifetime_ms = "86400000";
constexpr const char* cursor_renew_every = "1024";

// What a pool reads before choosing a key, in one command and one reply
// however many keys there are: the cursor, advanced, then each key's two
// resting times (0 when none), as a flat array of integers.
constexpr const char* view_script = R"lua(
local cursor = redis.call('INCR', KEYS[1])
if (cursor - 1) % tonumber(ARGV[1]) == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local out = {cursor}
for i = 2, #KEYS do
  local state = redis.call('HMGET', KEYS[i], 'cool', 'quar')
  out[#out + 1] = tonumber(state[1]) or 0
  out[#out + 1] = tonumber(state[2]) or 0
end
return out)lua";

// Raises the stored resting times, never lowers them, and keeps the hash a
// minute past the later of the two so that Redis forgets rested keys.
constexpr const char* raise_script = R"lua(
local function raise(field, value)
  local old = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if value > old then redis.call('HSET', KEYS[1], field, value) return value end
  return old
end
local cool = raise('cool', tonumber(ARGV[1]))
local quar = raise('quar', tonumber(ARGV[2]))
redis.call('PEXPIREAT', KEYS[1], math.max(cool, quar) + 60000)
return 1)lua";

// One sliding minute per key as a sorted set of grant times; members are
// names unique to each grant (ARGV[3]). Atomic as every script: two
// instances never both take the last slot.
constexpr const char* take_slot_script = R"lua(
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], 61000)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + 60000})lua";

struct reply_deleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr command(redisContext* context, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const std::string& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    return reply_ptr(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

bool is_error(const reply_ptr& reply) { return !reply || reply->type == REDIS_REPLY_ERROR; }

bool is_noscript(const reply_ptr& reply) {
    return reply && reply->type == REDIS_REPLY_ERROR && std::string_view(reply->str, reply->len).substr(0, 8) == "NOSCRIPT";
}

// EVALSHA, then EVAL if Redis has forgotten the script (SCRIPT FLUSH, a
// failover to a replica that never saw it): EVAL caches it again.
reply_ptr run_script(redisContext* context, const std::string& sha, const char* script, std::vector<std::string> args) {
    args.insert(args.begin(), {"EVALSHA", sha});
    reply_ptr reply = command(context, args);
    if (!is_noscript(reply)) return reply;
    args[0] = "EVAL";
    args[1] = script;
    return command(context, args);
}

std::string load_script(redisContext* context, const char* script) {
    const reply_ptr reply = command(context, {"SCRIPT", "LOAD", script});
    if (is_error(reply) || reply->type != REDIS_REPLY_STRING) return {};
    return std::string(reply->str, reply->len);
}

std::string random_grant_prefix() {
    std::random_device entropy;
    const std::uint64_t value = (std::uint64_t{entropy()} << 32) ^ entropy();
    char text[24];
    std::snprintf(text, sizeof text, "%016llx:", static_cast<unsigned long long>(value));
    return text;
}

std::int64_t integer_of(const redisReply* reply) {
    if (reply == nullptr) return 0;
    if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
    if (reply->type == REDIS_REPLY_STRING) return std::strtoll(reply->str, nullptr, 10);
    return 0;
}

timeval timeval_of(std::chrono::milliseconds d) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

}  // namespace

redis_key_share::redis_key_share(redis_endpoint endpoint, logger log, std::chrono::milliseconds deadline,
                                 std::size_t connections, std::chrono::milliseconds retry_every)
    : endpoint_(std::move(endpoint)), log_(std::move(log)), deadline_(deadline), retry_every_(retry_every),
      connections_(connections == 0 ? 1 : connections), grant_prefix_(random_grant_prefix()) {
    // Every connection now, so that the start-up log and /health tell at once
    // whether sharing works, and no request finds one unopened.
    if (const auto why = open_all()) {
        report_outage("failed (" + *why + ")");  // the thread tries again
    } else {
        needs_opening_ = false;
        resume_sharing();
    }
    reconnector_ = std::thread([this] { connect_in_background(); });
}

redis_key_share::~redis_key_share() {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    reconnector_.join();
    for (connection& c : connections_) {
        if (c.context != nullptr) redisFree(c.context);
    }
}

void redis_key_share::report_outage(std::string_view what) {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        connected_.store(false, std::memory_order_relaxed);
    }
    wake_.notify_all();
    if (!outage_logged_.exchange(true))
        log_.line("shared key state: Redis at " + endpoint_.shown + " " + std::string(what) +
                      "; each instance keeps its own key state until it is back (/health: shared_state degraded)",
                  log_level::warn);
}

void redis_key_share::resume_sharing() {
    connected_.store(true, std::memory_order_relaxed);
    outage_logged_.store(false);
    log_.line("shared key state: Redis at " + endpoint_.shown + " connected; key state is shared");
}

redisContext* redis_key_share::open(loaded_scripts& scripts, std::string& why) const {
    redisContext* context = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, timeval_of(deadline_));
    const auto fail = [&](std::string reason) -> redisContext* {
        why = std::move(reason);
        if (context != nullptr) redisFree(context);
        return nullptr;
    };
    if (context == nullptr) return fail("out of memory");
    if (context->err) return fail(context->errstr);
    redisSetTimeout(context, timeval_of(deadline_));
    if (!endpoint_.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
        auth.push_back(endpoint_.password);
        if (is_error(command(context, auth))) return fail(context->err ? context->errstr : "AUTH refused");
    }
    if (endpoint_.db != 0 && is_error(command(context, {"SELECT", std::to_string(endpoint_.db)})))
        return fail(context->err ? context->errstr : "SELECT " + std::to_string(endpoint_.db) + " refused");
    scripts.view = load_script(context, view_script);
    scripts.raise = load_script(context, raise_script);
    scripts.take_slot = load_script(context, take_slot_script);
    if (scripts.view.empty() || scripts.raise.empty() || scripts.take_slot.empty())
        return fail(context->err ? context->errstr : "SCRIPT LOAD refused");
    return context;
}

void redis_key_share::drop(connection& c, std::string_view why_view) {
    const std::string why(why_view);  // it may point into the context freed below
    redisFree(c.context);
    c.context = nullptr;
    // Redis is likely gone for every connection: the thread replaces them all
    // before sharing resumes, so one outage is one line each way.
    outages_.fetch_add(1);
    report_outage("failed (" + why + ")");
}

std::optional<std::string> redis_key_share::open_all() {
    for (connection& c : connections_) {
        // Requests hold a connection at most the deadline; none does while Redis is known down.
        std::unique_lock<std::timed_mutex> lock(c.mutex);
        if (c.context != nullptr && c.outages_when_connected == outages_.load()) continue;
        if (c.context != nullptr) redisFree(c.context);  // made before the last outage: its link is dead
        // Read before connecting: an outage reported meanwhile makes this link stale too.
        const std::uint64_t outages = outages_.load();
        std::string why;
        c.context = open(c.scripts, why);
        if (c.context == nullptr) return why;
        c.outages_when_connected = outages;
    }
    return std::nullopt;
}

void redis_key_share::ask_to_open() {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        needs_opening_ = true;
    }
    wake_.notify_all();
}

void redis_key_share::connect_in_background() {
    std::unique_lock<std::mutex> lock(wake_mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || needs_opening_ || !connected_.load(std::memory_order_relaxed); });
        if (stopping_) return;
        needs_opening_ = false;
        // Outside the lock, so that requests reporting an outage do not wait for the connects.
        lock.unlock();
        const std::uint64_t outages_before = outages_.load();
        const std::optional<std::string> failure = open_all();
        // An outage reported meanwhile left some link stale: another pass, not "connected".
        const bool all_open = !failure && outages_.load() == outages_before;
        if (failure && connected_.load(std::memory_order_relaxed)) report_outage("failed (" + *failure + ")");
        if (all_open && !connected_.load(std::memory_order_relaxed)) resume_sharing();
        lock.lock();
        if (!all_open) {
            needs_opening_ = true;
            wake_.wait_for(lock, retry_every_, [&] { return stopping_; });
        }
    }
}

template <class T, class Work>
std::optional<T> redis_key_share::with_connection(Work&& work) {
    const auto unavailable = [&] {
        unavailable_.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    };
    // Known down: answer at once; the background thread finds out when it is back.
    if (!connected_.load(std::memory_order_relaxed)) return unavailable();
    // A free connection if there is one; else wait for one, at most the
    // deadline: a slow Redis holds a few requests for the deadline, and the
    // others give up as quickly instead of queueing behind them.
    // Never opened here: connecting (a DNS look-up included) is the thread's
    // work, so a request never waits for more than one command. A connection
    // not open yet (the first moments after start) or made before an outage
    // is skipped, and the thread asked to open it.
    const auto usable = [this](const connection& c) {
        return c.context != nullptr && c.outages_when_connected == outages_.load();
    };
    const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<std::timed_mutex> lock;
    connection* chosen = nullptr;
    bool saw_unusable = false;
    for (std::size_t i = 0; i < connections_.size() && chosen == nullptr; ++i) {
        connection& c = connections_[(start + i) % connections_.size()];
        std::unique_lock<std::timed_mutex> attempt(c.mutex, std::try_to_lock);
        if (!attempt.owns_lock()) continue;
        if (!usable(c)) {
            saw_unusable = true;
            continue;
        }
        lock = std::move(attempt);
        chosen = &c;
    }
    if (saw_unusable) ask_to_open();
    if (chosen == nullptr) {
        connection& c = connections_[start % connections_.size()];
        std::unique_lock<std::timed_mutex> attempt(c.mutex, std::defer_lock);
        if (!attempt.try_lock_for(deadline_)) return unavailable();
        if (!usable(c)) {
            ask_to_open();
            return unavailable();
        }
        lock = std::move(attempt);
        chosen = &c;
    }
    std::optional<T> out = work(*chosen);
    if (!out) {
        drop(*chosen, chosen->context->err ? chosen->context->errstr : "unexpected reply");
        return unavailable();
    }
    return out;
}

std::optional<msgbridge::shared_key_view> redis_key_share::view(const std::vector<std::string>& ids) {
    std::vector<std::string> args{std::to_string(ids.size() + 1), cursor_key};
    args.reserve(ids.size() + 4);
    for (const std::string& id : ids) args.push_back(state_key(id));
    args.emplace_back(cursor_renew_every);
    args.emplace_back(cursor_lifetime_ms);
    return with_connection<msgbridge::shared_key_view>([&](connection& c) -> std::optional<msgbridge::shared_key_view> {
        // Called once: the arguments are not needed afterwards.
        const reply_ptr reply = run_script(c.context, c.scripts.view, view_script, std::move(args));
        if (is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 + 2 * ids.size())
            return std::nullopt;
        msgbridge::shared_key_view out;
        out.cursor = static_cast<std::uint64_t>(integer_of(reply->element[0])) - 1;  // INCR answers the new value
        out.keys.reserve(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i)
            out.keys.push_back({integer_of(reply->element[1 + 2 * i]), integer_of(reply->element[2 + 2 * i])});
        return out;
    });
}

bool redis_key_share::raise(std::string_view id, const msgbridge::shared_key_state& state) {
    return with_connection<bool>([&](connection& c) -> std::optional<bool> {
               if (is_error(run_script(c.context, c.scripts.raise, raise_script,
                                       {"1", state_key(id), std::to_string(state.cooling_until_ms),
                                        std::to_string(state.quarantined_until_ms)})))
                   return std::nullopt;
               return true;
           })
        .has_value();
}

bool redis_key_share::lift_quarantine(std::string_view id) {
    return with_connection<bool>([&](connection& c) -> std::optional<bool> {
               if (is_error(command(c.context, {"HSET", state_key(id), "quar", "0"}))) return std::nullopt;
               return true;
           })
        .has_value();
}

std::optional<msgbridge::shared_pacing_slot> redis_key_share::take_pacing_slot(std::string_view id,
                                                                             std::uint32_t per_minute,
                                                                             std::int64_t now_ms) {
    const std::string grant = grant_prefix_ + std::to_string(grants_.fetch_add(1, std::memory_order_relaxed));
    return with_connection<msgbridge::shared_pacing_slot>(
        [&](connection& c) -> std::optional<msgbridge::shared_pacing_slot> {
            const reply_ptr reply = run_script(c.context, c.scripts.take_slot, take_slot_script,
                                               {"1", window_key(id), std::to_string(now_ms),
                                                std::to_string(per_minute), grant});
            if (is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return std::nullopt;
            return msgbridge::shared_pacing_slot{integer_of(reply->element[0]) == 1, integer_of(reply->element[1])};
        });
}

}  // namespace proxy
