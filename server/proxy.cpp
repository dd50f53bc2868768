// SPDX-License-Identifier: MIT
#include "proxy.hpp"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include <msgbridge/version.hpp>

#include "local_answers.hpp"
#include "routes.hpp"
#include "status_page.hpp"
#include "stream_session.hpp"

namespace proxy {
namespace {

// The attempts ended without an answer to forward: their error, with the
// wait a rate-limited client should observe.
http_response attempts_failed(const attempt_result& attempts) {
    auto res = error_response(attempts.error);
    if (attempts.retry_after) res.headers.emplace_back("retry-after", std::to_string(*attempts.retry_after));
    return res;
}

msgbridge::error upstream_failure(int status, std::string message) {
    return msgbridge::error{msgbridge::error_type::api_error, status, std::move(message)};
}

degraded_rule degraded_rule_of(const config& cfg) {
    return {cfg.health_degraded_after_failures, std::chrono::seconds(cfg.health_degraded_window_seconds)};
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    // Compare over the longer length so the time does not reveal a matching prefix.
    std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

std::string make_request_id() {
    static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    thread_local std::mt19937_64 rng{std::random_device{}() ^
                                     static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
    std::string id = "req_";
    for (int i = 0; i < 24; ++i) id.push_back(alphabet[rng() % 62]);
    return id;
}

service::service(const config& cfg, std::shared_ptr<upstream_transport> upstream, logger log)
    : sink_(std::move(log)),
      current_(std::make_shared<const settings_generation>(cfg, std::move(upstream), sink_)),
      response_converters_(msgbridge::response_options{}),
      producers_(cfg.max_connections) {}

service::~service() {
    abort_streams();
}

void service::reload(const config& cfg, std::shared_ptr<upstream_transport> upstream) {
    // Built under the lock, so that two reloads never both start from the
    // same generation; it copies settings and keys, nothing slow, and the
    // transport comes built.
    std::lock_guard<std::mutex> lock(generation_mutex_);
    current_ = std::make_shared<const settings_generation>(cfg, std::move(upstream), sink_, current_.get());
    sink_.set_level(cfg.log_level);  // every copy of the logger shares it
}

std::shared_ptr<const settings_generation> service::settings() const {
    std::lock_guard<std::mutex> lock(generation_mutex_);
    return current_;
}

void service::add_session(const std::shared_ptr<stream_session>& session) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.insert(session);
}

void service::remove_session(stream_session* session) {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (it->get() == session) {
            sessions_.erase(it);
            return;
        }
    }
}

void service::abort_streams() {
    aborting_ = true;
    std::vector<std::shared_ptr<stream_session>> running;
    {
        std::lock_guard<std::mutex> lock(sessions_mutex_);
        running.assign(sessions_.begin(), sessions_.end());
    }
    auto err = msgbridge::make_error(msgbridge::error_type::overloaded_error,
                                     "the proxy is shutting down; retry the request");
    for (auto& session : running) session->abort(err);
}

std::size_t service::active_streams() const {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    return sessions_.size();
}

bool service::authorized(const http_request& request, const config& cfg, bool basic) {
    if (cfg.server_api_key.empty()) return true;
    bool ok = false;
    std::string authorization = request.header("authorization");
    if (basic) {
        if (auto password = basic_auth_password(authorization)) ok |= constant_time_equal(*password, cfg.server_api_key);
    }
    if (authorization.size() > 7 && equals_ignoring_case(std::string_view(authorization).substr(0, 7), "bearer ")) {
        std::string_view token = std::string_view(authorization).substr(7);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        ok |= constant_time_equal(token, cfg.server_api_key);
    }
    std::string api_key = request.header("x-api-key");
    if (!api_key.empty()) ok |= constant_time_equal(api_key, cfg.server_api_key);
    return ok;
}

bool service::admits(const http_request& head_only) const {
    const route* found = find_route(head_only.path);
    return found == nullptr || !found->needs_key || authorized(head_only, settings()->cfg, found->browser);
}

http_response service::handle(const http_request& request) {
    const auto started = steady::now();
    // The one look at the current settings: the request keeps this generation to its end.
    const generation current = settings();
    http_response res = dispatch(request, current);
    if (!res.logged) {
        const std::string route = route_label(request.path);
        request_summary summary{request.id, request.remote_addr, request.method, request.path, route, res.status,
                                steady::now() - started, res.status >= 400 ? std::string_view(res.body) : std::string_view()};
        current->log.request(summary);
        metrics_.observe_request(route, {}, res.status, summary.total);
    }
    return res;
}

http_response service::dispatch(const http_request& request, const generation& current) {
    const config& cfg = current->cfg;
    const route* found = find_route(request.path);
    if (found == nullptr) return no_route(request);
    if (!serves_method(*found, request.method)) return method_not_allowed(request, *found);
    if (found->needs_key && !authorized(request, cfg, found->browser)) return unauthorized(request.path);
    switch (found->target) {
        case endpoint::messages: return messages(request, current);
        case endpoint::count_tokens: return count_tokens(request, *current);
        case endpoint::models: return models_answer(cfg.request, current->upstream_models.ids(), request.query);
        case endpoint::model:
            return model_answer(cfg.request, current->upstream_models.ids(), route_argument(*found, request.path));
        case endpoint::client_probe: return client_probe_answer();
        case endpoint::health: {
            const auto& shared = current->shared_state;
            const bool with_details = authorized(request, cfg);
            // What healing learned is shown only to callers with the key; built only for them.
            const std::string learned = with_details ? healing_.to_json() : std::string();
            const health_report report{active_streams(), upstream_health_.degraded(degraded_rule_of(cfg)),
                                       !shared ? "" : shared->connected() ? "ok" : "degraded", learned};
            return health_answer(report, current->keys, with_details);
        }
        case endpoint::metrics: {
            std::optional<shared_state_reading> shared;
            if (current->shared_state) shared = current->shared_state->reading();
            return metrics_answer(metrics_.scrape(active_streams(), current->keys.stats(), shared));
        }
        case endpoint::status: return status_page(*current);
        case endpoint::root: return root_answer();
    }
    return no_route(request);
}

http_response service::status_page(const settings_generation& current) const {
    status_view view;
    view.version = msgbridge::version_string;
    view.upstream_url = upstream_url_for_display(current.cfg.upstream_url);
    const auto now = steady::now();
    view.uptime = now - started_at_;
    view.now = std::chrono::system_clock::now();
    view.upstream = upstream_health_.read(degraded_rule_of(current.cfg));
    view.keys = current.keys.stats();
    if (current.shared_state)
        view.shared = shared_state_view{current.shared_state->endpoint().shown, current.shared_state->reading()};
    view.models = board_.models();
    view.recent = board_.recent();
    {
        std::lock_guard<std::mutex> lock(sessions_mutex_);
        for (const auto& session : sessions_)
            view.streams.push_back({session->request_id(), session->upstream_model(), now - session->started()});
    }
    // Oldest first: the stream most likely stuck leads.
    std::sort(view.streams.begin(), view.streams.end(), [](const open_stream& a, const open_stream& b) { return a.age > b.age; });
    return status_answer(view);
}

http_response service::count_tokens(const http_request& request, const settings_generation& current) {
    return count_tokens_answer(current.request_converters.with(request.body.size(), [&](msgbridge::request_converter& converter) {
        return converter.count_tokens(request.body, request.body.capacity());
    }));
}

http_response service::messages(const http_request& request, const generation& current) {
    const auto started = steady::now();
    const config& cfg = current->cfg;
    const redacting_log& log = current->log;
    if (cfg.log_body_max_chars > 0)
        log.line(request.id + " body: " + body_for_log(request.body, cfg.log_body_max_chars, log.secrets()));

    // The body's spare capacity lets simdjson parse it in place, without a copy.
    auto converted = current->request_converters.with(request.body.size(), [&](msgbridge::request_converter& converter) {
        return converter.convert(request.body, request.body.capacity());
    });
    if (!converted) {
        auto res = error_response(converted.error());
        res.logged = true;
        const request_summary summary{request.id, request.remote_addr, request.method, request.path,
                                      "/v1/messages", res.status, steady::now() - started, res.body};
        log.request(summary);
        metrics_.observe_request(summary.route, {}, res.status, summary.total);
        return res;
    }
    msgbridge::converted_request conv = std::move(converted).value();
    for (const auto& warning : conv.warnings) log.line(request.id + " warning: " + warning, log_level::warn);
    // What was sent upstream, for debugging a conversion: made only when asked for.
    if (cfg.log_body_max_chars > 0 && log.sink().enabled(log_level::debug))
        log.line(request.id + " upstream body: " + body_for_log(conv.body, cfg.log_body_max_chars, log.secrets()),
                 log_level::debug);

    if (cfg.answer_quota_probe && conv.quota_probe) {
        http_response res = quota_probe_answer(conv);
        if (res.status == 200) {
            log.line(request.id + " POST /v1/messages " + conv.context.client_model + " quota probe answered locally");
            res.logged = true;
            metrics_.observe_request("/v1/messages", {}, res.status, steady::now() - started);
        }
        return res;
    }
    if (aborting_) {
        return error_response(msgbridge::make_error(msgbridge::error_type::overloaded_error,
                                                    "the proxy is shutting down; retry the request"));
    }
    // Made before `conv` moves on: the exchange keeps the warnings themselves for /status.
    header_list warnings = warning_headers(conv.warnings);
    http_response res = conv.stream ? stream_messages(request, current, std::move(conv))
                                    : complete_messages(request, *current, std::move(conv), started);
    res.headers.insert(res.headers.end(), std::make_move_iterator(warnings.begin()), std::make_move_iterator(warnings.end()));
    return res;
}

http_response service::stream_messages(const http_request& request, const generation& current,
                                       msgbridge::converted_request converted) {
    auto session = std::make_shared<stream_session>(
        stream_context{current, producers_, exchanges_, healing_, upstream_health_}, request, std::move(converted));
    add_session(session);
    session->start();
    if (!session->wait_for_commit(std::chrono::seconds(current->cfg.stream_commit_after_seconds))) {
        session->join();
        auto res = attempts_failed(session->result());
        session->log_summary(session->result().error.http_status);
        remove_session(session.get());
        res.logged = true;
        return res;
    }
    auto res = sse_response(std::make_unique<session_stream>(session, [this](stream_session* s) { remove_session(s); }));
    res.logged = true;  // the producer writes the line when the stream ends
    return res;
}

// Non-streaming: the whole exchange on this thread, bounded by UPSTREAM_TIMEOUT_SECONDS.
http_response service::complete_messages(const http_request& request, const settings_generation& current,
                                         msgbridge::converted_request converted, steady::time_point started) {
    const config& cfg = current.cfg;
    upstream_request up;
    up.body = std::move(converted.body);
    up.stream = false;
    up.read_timeout = std::chrono::seconds(cfg.upstream_timeout_seconds);
    up.total_timeout = std::chrono::seconds(cfg.upstream_timeout_seconds);

    exchange_summary summary;
    summary.request_id = request.id;
    summary.client_address = request.remote_addr;
    summary.client_model = converted.context.client_model;
    summary.upstream_model = converted.upstream_model;
    summary.warnings = &converted.warnings;
    summary.started = started;
    std::string answer;
    bool too_large = false;
    attempt_hooks hooks;
    hooks.on_commit = [] { return true; };
    hooks.healing = &healing_;
    hooks.upstream_model = converted.upstream_model;
    hooks.on_body = [&](std::string_view bytes) {
        if (!summary.first_byte) summary.first_byte = steady::now();
        // The answer is held in memory until it is converted: bound it.
        if (answer.size() + bytes.size() > cfg.max_upstream_response_bytes) {
            too_large = true;
            return false;
        }
        answer.append(bytes);
        return true;
    };
    cancel_handle cancel;
    std::atomic<bool> client_left{false};
    attempt_result attempts;
    std::vector<std::string> tries;  // every attempt of both asks, for the summary line
    std::optional<http_response> answered;
    // An empty answer (NIM under load: thinks, then nothing) is asked for once more.
    for (bool may_ask_again = true; !answered; may_ask_again = false) {
        answer.clear();
        too_large = false;
        {
            // Nobody would read the answer, and it costs the user quota.
            hangup_watch watch(request.client, [&] {
                client_left = true;
                cancel.cancel();
            });
            attempts = run_attempts(current.upstream, request.id, up, cancel, hooks);
        }
        upstream_health_.observe(attempts);
        tries.insert(tries.end(), attempts.attempts.begin(), attempts.attempts.end());
        explain_unmapped_model(attempts, converted.context.client_model, converted.upstream_model);
        answered = completion_answer(cfg, attempts, too_large, answer, converted.context, may_ask_again && !client_left,
                                     summary);
        if (!answered) current.log.line(request.id + " the model returned an empty answer; asking once more");
    }
    http_response res = std::move(*answered);
    summary.finished = steady::now();
    summary.status = res.status;
    summary.client_disconnected = client_left;
    if (res.status >= 400) summary.error_body = res.body;
    exchanges_.finished(current, summary, tries);
    res.logged = true;
    return res;
}

// The client's answer to a finished exchange; the token counts go to
// `summary`. None when the model said nothing and `may_ask_again`.
std::optional<http_response> service::completion_answer(const config& cfg, const attempt_result& attempts, bool too_large,
                                                        const std::string& answer,
                                                        const msgbridge::response_context& context, bool may_ask_again,
                                                        exchange_summary& summary) {
    if (!attempts.committed) return attempts_failed(attempts);
    if (too_large) {
        return error_response(upstream_failure(502, "the upstream's answer exceeded " +
                                                   std::to_string(cfg.max_upstream_response_bytes) +
                                                   " bytes (MAX_UPSTREAM_RESPONSE_BYTES)"));
    }
    if (attempts.last.what == upstream_outcome::kind::timed_out) {
        return error_response(upstream_failure(504, "upstream timed out after " + std::to_string(cfg.upstream_timeout_seconds) +
                                                   " s (UPSTREAM_TIMEOUT_SECONDS): " + attempts.last.detail));
    }
    if (attempts.last.what != upstream_outcome::kind::completed)
        return error_response(upstream_failure(502, "upstream connection broke during the answer: " + attempts.last.detail));

    // The answer's spare capacity lets simdjson parse it in place, without a copy.
    auto converted = response_converters_.with(answer.size(), [&](msgbridge::response_converter& converter) {
        return converter.convert(answer, context, answer.capacity());
    });
    if (!converted)
        return error_response(upstream_failure(502, "the upstream's answer could not be converted: " + converted.error().message));
    // Reasoning cut by max_tokens is an answer the client asked for; nothing at all after a stop is not.
    if (converted->empty_answer && converted->stop_reason != "max_tokens") {
        if (may_ask_again) return std::nullopt;
        return error_response(empty_answer_error(true));
    }
    summary.tokens_in = converted->input_tokens;
    summary.tokens_out = converted->output_tokens;
    summary.tokens_cache_read = converted->cache_read_input_tokens;
    return json_response(200, std::move(converted->body));
}

}  // namespace proxy
