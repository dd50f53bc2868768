// SPDX-License-Identifier: MIT
#include "proxy.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include <simdjson.h>

#include <msgbridge/detail/json_writer.hpp>
#include <msgbridge/request.hpp>
#include <msgbridge/response.hpp>
#include <msgbridge/stream.hpp>
#include <msgbridge/version.hpp>

namespace proxy {
namespace {

using steady = std::chrono::steady_clock;

// The Go original gave up after five attempts; so do we.
constexpr int max_attempts = 5;
// Upstream error bodies are kept for the client's error message, not more.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr auto server_error_backoff = std::chrono::milliseconds(250);

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    }
    return true;
}

long long millis_between(steady::time_point from, steady::time_point to) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

msgbridge::error make_status_error(msgbridge::error_type type, int status, std::string message) {
    return msgbridge::error{type, status, std::move(message)};
}

http_response json_response(int status, std::string body) {
    http_response res;
    res.status = status;
    res.body = std::move(body);
    return res;
}

std::string_view outcome_name(upstream_outcome::kind kind) {
    switch (kind) {
        case upstream_outcome::kind::completed: return "completed";
        case upstream_outcome::kind::cancelled: return "cancelled";
        case upstream_outcome::kind::timed_out: return "timeout";
        case upstream_outcome::kind::connect_failed: return "connect-failed";
        case upstream_outcome::kind::tls_failed: return "tls-failed";
        case upstream_outcome::kind::io_failed: return "io-failed";
    }
    return "?";
}

long ceil_seconds(std::chrono::milliseconds wait) {
    auto seconds = (wait.count() + 999) / 1000;
    return seconds < 1 ? 1 : static_cast<long>(seconds);
}

// ---- the attempt loop: keys, retries, and the one moment a response commits ----

struct loop_hooks {
    // A 2xx answer's headers arrived. Return false to refuse it (abort).
    std::function<bool()> on_commit;
    // Body bytes of the committed answer. Return false to abort.
    std::function<bool(std::string_view)> on_body;
    // A key was just taken out of service (401/403): one log line, redacted id only.
    std::function<void(std::string_view redacted_id, int status)> on_quarantine;
};

struct loop_result {
    bool committed = false;
    upstream_outcome last;                 // how the last attempt ended
    msgbridge::error error;                // when !committed: what the client gets
    std::optional<long> retry_after;       // seconds, for a 429 answer
    std::vector<std::string> attempts;     // "nvapi-…k001:429", for the log
};

// Tries keys until an answer commits or the rules say stop (docs/server.md):
// 429 and 401/403 move to the next key (at most five attempts in all), a
// connection failure or 5xx is retried once after a short pause, anything
// else is final. Nothing here has reached the client yet.
loop_result run_attempts(upstream_transport& upstream, msgbridge::key_pool* pool, const upstream_request& base,
                         cancel_handle& cancel, const loop_hooks& hooks, const std::string& upstream_host) {
    loop_result r;
    msgbridge::key_set tried;
    bool server_retry_used = false;
    std::optional<msgbridge::error> last_error;
    std::string last_retry_after;
    int last_status = 0;
    std::optional<std::chrono::milliseconds> pool_wait;  // from the acquire that found every key tried

    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        msgbridge::key_lease lease;
        if (pool != nullptr && !pool->empty()) {
            auto got = pool->acquire(tried);
            if (got.status != msgbridge::acquire_status::leased) {
                long wait = ceil_seconds(got.wait);
                if (last_error && got.status == msgbridge::acquire_status::exhausted) {
                    if (got.wait.count() > 0) pool_wait = got.wait;
                    break;
                }
                if (got.status == msgbridge::acquire_status::quarantined) {
                    r.error = last_error ? *last_error
                                         : make_status_error(msgbridge::error_type::api_error, 503,
                                                             "every upstream key is out of service after the upstream "
                                                             "rejected it (401/403); check nvidia_keys / PROVIDER_API_KEYS");
                } else {
                    r.error = msgbridge::make_error(
                        msgbridge::error_type::rate_limit_error,
                        "every upstream key is cooling down after rate limiting (429); retry in " +
                            std::to_string(wait) + " s");
                }
                r.retry_after = wait;
                return r;
            }
            lease = std::move(got.lease);
        }

        upstream_request request = base;
        if (lease) request.api_key = std::string(lease.key());
        std::string key_id = lease ? std::string(lease.redacted_id()) : std::string("no-key");

        int status = 0;
        bool committed = false;
        std::string error_body;
        std::string retry_after;
        upstream_callbacks callbacks;
        callbacks.on_headers = [&](int s, std::string_view retry_after_header) {
            status = s;
            retry_after = retry_after_header;
            if (s >= 200 && s < 300) {
                committed = hooks.on_commit();
                return committed;
            }
            return true;
        };
        callbacks.on_data = [&](std::string_view bytes) {
            if (committed) return hooks.on_body(bytes);
            if (error_body.size() < max_error_body)
                error_body.append(bytes.substr(0, max_error_body - error_body.size()));
            return true;
        };

        upstream_outcome out = upstream.post(request, callbacks, cancel);
        r.last = out;

        if (committed) {
            r.attempts.push_back(key_id + ":" + std::to_string(status));
            if (lease) (void)lease.report(out.what == upstream_outcome::kind::completed ? msgbridge::key_outcome::success
                                                                                      : msgbridge::key_outcome::transient);
            r.committed = true;
            return r;
        }

        if (out.got_headers && out.what == upstream_outcome::kind::completed) {
            r.attempts.push_back(key_id + ":" + std::to_string(status));
            auto key_result = msgbridge::outcome_for_status(status);
            if (lease) {
                // Copied first: the lease is spent once it reports.
                std::string redacted(lease.redacted_id());
                auto reported = lease.report(key_result, retry_after);
                if (reported.newly_quarantined && hooks.on_quarantine) hooks.on_quarantine(redacted, status);
            }
            last_error = msgbridge::convert_upstream_error(status, error_body);
            last_retry_after = retry_after;
            last_status = status;
            if (status == 429 || status == 401 || status == 403) {
                if (!lease) break;  // no keys to rotate through
                tried.insert(lease.index());
                continue;
            }
            if (status >= 500 && !server_retry_used && !cancel.cancelled()) {
                server_retry_used = true;
                std::this_thread::sleep_for(server_error_backoff);
                continue;
            }
            break;
        }

        // No complete answer.
        r.attempts.push_back(key_id + ":" + std::string(outcome_name(out.what)));
        if (lease) (void)lease.report(msgbridge::key_outcome::transient);
        last_status = 0;
        switch (out.what) {
            case upstream_outcome::kind::connect_failed:
                last_error = make_status_error(msgbridge::error_type::api_error, 502,
                                               "upstream " + upstream_host + " unreachable: " + out.detail);
                break;
            case upstream_outcome::kind::io_failed:
                last_error = make_status_error(msgbridge::error_type::api_error, 502,
                                               "upstream " + upstream_host + " connection failed: " + out.detail);
                break;
            case upstream_outcome::kind::tls_failed:
                r.error = make_status_error(msgbridge::error_type::api_error, 502,
                                            "upstream " + upstream_host + " TLS failed: " + out.detail);
                return r;
            case upstream_outcome::kind::timed_out:
                r.error = make_status_error(msgbridge::error_type::api_error, 504,
                                            "upstream " + upstream_host + " timed out: " + out.detail);
                return r;
            case upstream_outcome::kind::cancelled:
            case upstream_outcome::kind::completed:
                r.error = make_status_error(msgbridge::error_type::api_error, 500, "the request was cancelled");
                return r;
        }
        if (!server_retry_used && !cancel.cancelled()) {
            server_retry_used = true;
            std::this_thread::sleep_for(server_error_backoff);
            continue;
        }
        break;
    }

    r.error = last_error ? *last_error
                         : msgbridge::make_error(msgbridge::error_type::api_error, "no upstream attempt was made");
    if (last_status == 429) {
        // The pool knows when its first key is usable again; the upstream's
        // own header only matters without keys to rotate.
        std::optional<std::chrono::milliseconds> wait = pool_wait;
        if (!wait && !last_retry_after.empty())
            wait = msgbridge::parse_retry_after(last_retry_after, std::chrono::system_clock::now());
        r.retry_after = ceil_seconds(wait.value_or(std::chrono::seconds(1)));
    }
    return r;
}

// ---- Claude Code's quota probe ----

// One parser per thread: a dom::parser keeps its buffers between documents.
simdjson::dom::parser& thread_parser() {
    thread_local simdjson::dom::parser parser;
    return parser;
}

// The OpenAI answer the upstream would have given, run through the real
// converters so the local answer has exactly the shapes a real one has.
std::string local_completion(const std::string& upstream_model, std::uint64_t input_tokens, bool stream) {
    msgbridge::detail::json_writer w;
    auto usage = [&] {
        w.key("usage");
        w.start_object();
        w.key("prompt_tokens"); w.uint64(input_tokens);
        w.key("completion_tokens"); w.uint64(1);
        w.key("total_tokens"); w.uint64(input_tokens + 1);
        w.end_object();
    };
    auto header = [&](std::string_view object) {
        w.start_object();
        w.key("id"); w.string("chatcmpl-local-quota");
        w.key("object"); w.string(object);
        w.key("created"); w.uint64(0);
        w.key("model"); w.string(upstream_model);
    };
    if (!stream) {
        header("chat.completion");
        w.key("choices"); w.start_array(); w.start_object();
        w.key("index"); w.uint64(0);
        w.key("message"); w.start_object();
        w.key("role"); w.string("assistant");
        w.key("content"); w.string("ok");
        w.end_object();
        w.key("finish_reason"); w.string("length");
        w.end_object(); w.end_array();
        usage();
        w.end_object();
        return std::string(w.view());
    }
    std::string out;
    header("chat.completion.chunk");
    w.key("choices"); w.start_array(); w.start_object();
    w.key("index"); w.uint64(0);
    w.key("delta"); w.start_object();
    w.key("role"); w.string("assistant");
    w.key("content"); w.string("ok");
    w.end_object();
    w.key("finish_reason"); w.null();
    w.end_object(); w.end_array();
    w.end_object();
    out += "data: "; out += w.view(); out += "\n\n";
    w.reset();
    header("chat.completion.chunk");
    w.key("choices"); w.start_array(); w.start_object();
    w.key("index"); w.uint64(0);
    w.key("delta"); w.start_object(); w.end_object();
    w.key("finish_reason"); w.string("length");
    w.end_object(); w.end_array();
    usage();
    w.end_object();
    out += "data: "; out += w.view(); out += "\n\ndata: [DONE]\n\n";
    return out;
}

// A stream whose bytes are all known up front.
class fixed_stream final : public body_stream {
public:
    explicit fixed_stream(std::string bytes) : bytes_(std::move(bytes)) {}
    bool next(std::string& out) override {
        out += bytes_;
        bytes_.clear();
        return false;
    }
    void cancel() override {}

private:
    std::string bytes_;
};

void add_sse_headers(http_response& res) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    // nginx and friends buffer responses unless told not to.
    res.headers.emplace_back("X-Accel-Buffering", "no");
}

// Reads usage.{input,output}_tokens from an Anthropic message body, for the log.
void read_usage(std::string_view anthropic_body, std::uint64_t& in, std::uint64_t& out) {
    simdjson::dom::parser& parser = thread_parser();
    simdjson::dom::element doc;
    if (parser.parse(anthropic_body.data(), anthropic_body.size()).get(doc)) return;
    if (doc["usage"]["input_tokens"].get_uint64().get(in)) in = 0;
    if (doc["usage"]["output_tokens"].get_uint64().get(out)) out = 0;
}

std::string upstream_host_of(const std::string& url) {
    auto start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    auto end = url.find('/', start);
    return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The converter keeps the answer's first characters for the log line itself.
msgbridge::stream_options stream_options_for(const config& cfg) {
    msgbridge::stream_options options;
    options.text_preview_bytes = cfg.log_stream_text_preview_chars;
    return options;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += items[i];
    }
    out += ']';
    return out;
}

}  // namespace

// ---- streaming: the upstream runs on a producer thread, the client's connection pulls ----

// Shared by three threads: the handler (waits until the answer commits or
// fails), the producer (runs the attempt loop and the stream converter), and
// the client's connection (pulls converted bytes through next()). The
// producer is needed because the connection thread must keep sending pings
// while the upstream is silent, and a blocked upstream read cannot do that.
// Producers come from a pool: a thread started per stream cost a clone, an
// 8 MB stack mapped and unmapped, and TLB shootdowns on every stream.
class stream_session : public std::enable_shared_from_this<stream_session> {
public:
    stream_session(service& svc, const http_request& request, msgbridge::converted_request converted)
        : svc_(svc),
          client_(request.client),
          request_id_(request.id),
          client_model_(converted.context.client_model),
          upstream_model_(converted.upstream_model),
          converter_(converted.context, stream_options_for(svc.cfg_)),
          started_(steady::now()) {
        upstream_.body = std::move(converted.body);
        upstream_.stream = true;
        upstream_.read_timeout = std::chrono::seconds(svc.cfg_.stream_idle_timeout_seconds);
    }

    void start() {
        // A client that hangs up while the upstream has not answered (or is
        // silent) would otherwise be noticed only at the next write.
        hangup_ = std::make_unique<hangup_watch>(client_, [this] { cancel_by_client(); });
        // The job's reference keeps the session alive until produce() has returned.
        if (svc_.producers_.try_run([self = shared_from_this()] { self->produce(); })) return;
        std::lock_guard<std::mutex> lock(mutex_);
        result_.error = msgbridge::make_error(msgbridge::error_type::overloaded_error,
                                              "the proxy cannot start another stream now (no thread); retry shortly");
        phase_ = phase::failed;
        ended_ = true;
        changed_.notify_all();
    }

    // Handler thread: true once the answer committed (stream it), false when
    // it failed before anything was sent (answer `error()`). An upstream that
    // has not answered within `commit_after` (0: no limit) is not waited for:
    // the stream starts with our own message_start so that pings can flow,
    // and the attempts go on behind it; since nothing of the upstream's
    // reached the client, retries still work, but a final failure can then
    // only be an `error` event.
    bool wait_for_commit(std::chrono::seconds commit_after) {
        std::unique_lock<std::mutex> lock(mutex_);
        auto decided = [this] { return phase_ != phase::waiting; };
        if (commit_after.count() == 0) {
            changed_.wait(lock, decided);
        } else if (!changed_.wait_for(lock, commit_after, decided)) {
            phase_ = phase::streaming;
            started_early_ = true;
            std::string start;
            converter_.feed({}, start);  // message_start and a ping; the producer feeds only after it commits
            if (!first_byte_) first_byte_ = steady::now();
            pending_ += start;
            return true;
        }
        return phase_ == phase::streaming;
    }
    const loop_result& result() const { return result_; }

    // Connection thread.
    bool next(std::string& out) {
        std::unique_lock<std::mutex> lock(mutex_);
        auto ping_every = std::chrono::seconds(svc_.cfg_.ping_interval_seconds);
        while (pending_.empty() && !ended_) {
            if (changed_.wait_for(lock, ping_every) == std::cv_status::timeout && pending_.empty() && !ended_) {
                // Claude Code treats ~20 s without bytes as a stalled stream.
                msgbridge::append_ping_event(out);
                ++pings_;
                return true;
            }
        }
        out += pending_;
        bytes_to_client_ += pending_.size();
        pending_.clear();
        return !ended_;
    }

    void cancel_by_client() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (ended_) return;
            client_gone_ = true;
        }
        cancel_.cancel();
    }

    void abort(const msgbridge::error& err) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (ended_) return;
            abort_error_ = err;
        }
        cancel_.cancel();
    }

    // Until produce() has finished with the session's state.
    void join() {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return ended_; });
    }

    void log_summary(int status) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string line = request_id_ + " POST /v1/messages " + client_model_ + " -> " + upstream_model_ +
                           " stream=true status=" + std::to_string(status) + " attempts=" + join_list(result_.attempts) +
                           " tokens_in=" + std::to_string(input_tokens_) + " tokens_out=" + std::to_string(output_tokens_);
        line += " ttfb_ms=" + (first_byte_ ? std::to_string(millis_between(started_, *first_byte_)) : std::string("-"));
        line += " total_ms=" + std::to_string(millis_between(started_, finished_.value_or(steady::now())));
        if (pings_) line += " pings=" + std::to_string(pings_);
        if (client_gone_) line += " client=disconnected";
        if (abort_error_) line += " ended=shutdown";
        if (started_early_) line += " started=early";
        if (!end_note_.empty()) line += " end=" + end_note_;
        svc_.log_.line(redact_secrets(std::move(line), svc_.secrets_));
        if (svc_.cfg_.log_stream_text_preview_chars > 0 && !preview_.empty())
            svc_.log_.line(request_id_ + " text: " +
                           redact_secrets(preview_text(preview_, svc_.cfg_.log_stream_text_preview_chars), svc_.secrets_));
    }

private:
    enum class phase { waiting, streaming, failed };

    void produce() {
        std::string batch;
        loop_hooks hooks;
        hooks.on_commit = [this] {
            std::lock_guard<std::mutex> lock(mutex_);
            if (client_gone_ || abort_error_) return false;
            phase_ = phase::streaming;
            changed_.notify_all();
            return true;
        };
        hooks.on_quarantine = [this](std::string_view redacted_id, int status) {
            svc_.log_quarantine(request_id_, redacted_id, status);
        };
        hooks.on_body = [this, &batch](std::string_view bytes) {
            // An upstream that never ends (or never stops one event) is cut here.
            upstream_bytes_ += bytes.size();
            if (upstream_bytes_ > svc_.cfg_.max_upstream_response_bytes) {
                too_large_ = true;
                return false;
            }
            batch.clear();
            converter_.feed(bytes, batch);
            return push(batch);
        };
        result_ = run_attempts(svc_.upstream_, svc_.keys_.get(), upstream_, cancel_, hooks,
                               upstream_host_of(svc_.cfg_.upstream_url));
        bool streaming = false;
        bool client_gone = false;
        std::optional<msgbridge::error> abort;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!result_.committed && phase_ == phase::waiting) {
                // Shut down before the upstream answered: say so, not "cancelled".
                if (abort_error_) result_.error = *abort_error_;
                phase_ = phase::failed;  // the handler answers result_.error; it joins us before reading more
                changed_.notify_all();
            }
            streaming = phase_ == phase::streaming;
            client_gone = client_gone_;
            abort = abort_error_;
        }
        batch.clear();
        if (streaming && result_.committed) {
            const auto& last = result_.last;
            if (last.what == upstream_outcome::kind::completed) {
                converter_.finish(batch);
            } else if (abort) {
                converter_.fail(*abort, batch);
            } else if (too_large_) {
                end_note_ = "too-large";
                converter_.fail(msgbridge::make_error(msgbridge::error_type::api_error,
                                                      "the upstream's answer exceeded " +
                                                          std::to_string(svc_.cfg_.max_upstream_response_bytes) +
                                                          " bytes (MAX_UPSTREAM_RESPONSE_BYTES)"),
                                batch);
            } else if (last.what == upstream_outcome::kind::timed_out) {
                end_note_ = "idle-timeout";
                converter_.fail(msgbridge::make_error(msgbridge::error_type::api_error,
                                                      "the upstream sent nothing for " +
                                                          std::to_string(svc_.cfg_.stream_idle_timeout_seconds) +
                                                          " s (STREAM_IDLE_TIMEOUT_SECONDS)"),
                                batch);
            } else if (last.what != upstream_outcome::kind::cancelled) {
                end_note_ = std::string(outcome_name(last.what));
                converter_.fail(msgbridge::make_error(msgbridge::error_type::api_error,
                                                      "the upstream connection broke: " + last.detail),
                                batch);
            }
        } else if (streaming && !client_gone) {
            // Started early, then every attempt failed: the status the client
            // would have got travels as an `error` event.
            const msgbridge::error& err = abort ? *abort : result_.error;
            end_note_ = "error-" + std::to_string(err.http_status);
            converter_.fail(err, batch);
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!batch.empty() && !client_gone_) {
                if (!first_byte_) first_byte_ = steady::now();
                pending_ += batch;
            }
            input_tokens_ = converter_.input_tokens();
            output_tokens_ = converter_.output_tokens();
            preview_ = converter_.text_preview();
            finished_ = steady::now();
        }
        // Logged before the stream's end is published, so the line exists by
        // the time the client sees the last byte (the tests rely on that).
        if (streaming) log_summary(200);
        std::lock_guard<std::mutex> lock(mutex_);
        ended_ = true;
        changed_.notify_all();
    }

    // Hands converted bytes to the connection thread; false once the client is gone.
    bool push(const std::string& bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (client_gone_ || abort_error_) return false;
        if (!bytes.empty()) {
            if (!first_byte_) first_byte_ = steady::now();
            pending_ += bytes;
            changed_.notify_all();
        }
        return true;
    }

    service& svc_;
    std::shared_ptr<client_link> client_;
    std::string request_id_;
    std::string client_model_;
    std::string upstream_model_;
    upstream_request upstream_;
    msgbridge::stream_converter converter_;  // producer thread only
    cancel_handle cancel_;
    loop_result result_;  // written by the producer before phase_/ended_ change

    std::mutex mutex_;
    std::condition_variable changed_;
    phase phase_ = phase::waiting;
    std::string pending_;
    bool ended_ = false;
    bool client_gone_ = false;
    std::optional<msgbridge::error> abort_error_;
    std::string preview_;
    std::string end_note_;
    std::uint64_t input_tokens_ = 0;
    std::uint64_t output_tokens_ = 0;
    std::uint64_t bytes_to_client_ = 0;
    std::uint64_t upstream_bytes_ = 0;  // producer thread only
    bool too_large_ = false;            // producer thread only
    unsigned pings_ = 0;
    steady::time_point started_;
    std::optional<steady::time_point> first_byte_;
    std::optional<steady::time_point> finished_;
    bool started_early_ = false;
    // Last: destroyed first, so a hang-up never reaches a half-destroyed session.
    std::unique_ptr<hangup_watch> hangup_;
};

namespace {

// What the connection pulls; ends the session when the response is destroyed.
class session_stream final : public body_stream {
public:
    session_stream(std::shared_ptr<stream_session> session, std::function<void(stream_session*)> done)
        : session_(std::move(session)), done_(std::move(done)) {}
    ~session_stream() override {
        // Whatever happened to the connection, the upstream must not outlive it.
        session_->cancel_by_client();
        session_->join();
        done_(session_.get());
    }
    bool next(std::string& out) override { return session_->next(out); }
    void cancel() override { session_->cancel_by_client(); }

private:
    std::shared_ptr<stream_session> session_;
    std::function<void(stream_session*)> done_;
};

}  // namespace

// ---- service ----

std::string http_request::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (iequals(h.first, name)) return h.second;
    }
    return {};
}

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
                                     static_cast<std::uint64_t>(steady::now().time_since_epoch().count())};
    std::string id = "req_";
    for (int i = 0; i < 24; ++i) id.push_back(alphabet[rng() % 62]);
    return id;
}

service::service(const config& cfg, upstream_transport& upstream, logger log)
    : cfg_(cfg),
      upstream_(upstream),
      log_(std::move(log)),
      converters_(cfg_.request),
      producers_(cfg_.max_connections) {
    msgbridge::key_pool_options options;
    options.strategy = cfg_.key_rotation;
    keys_ = std::make_unique<msgbridge::key_pool>(cfg_.keys, std::move(options));
    secrets_ = cfg_.keys;
    if (!cfg_.server_api_key.empty()) secrets_.push_back(cfg_.server_api_key);
}

service::~service() {
    abort_streams();
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

void service::log_quarantine(const std::string& request_id, std::string_view redacted_id, int status) const {
    log_.line(redact_secrets(request_id + " key " + std::string(redacted_id) + " quarantined: the upstream answered " +
                                 std::to_string(status) + "; it is skipped until the quarantine ends",
                             secrets_));
}

http_response service::error_response(const msgbridge::error& err) {
    return json_response(err.http_status, msgbridge::to_json(err));
}

bool service::authorized(const http_request& request) const {
    if (cfg_.server_api_key.empty()) return true;
    bool ok = false;
    std::string authorization = request.header("authorization");
    if (authorization.size() > 7 && iequals(std::string_view(authorization).substr(0, 7), "bearer ")) {
        std::string_view token = std::string_view(authorization).substr(7);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        ok |= constant_time_equal(token, cfg_.server_api_key);
    }
    std::string api_key = request.header("x-api-key");
    if (!api_key.empty()) ok |= constant_time_equal(api_key, cfg_.server_api_key);
    return ok;
}

http_response service::handle(const http_request& request) {
    const auto started = steady::now();
    http_response res = route(request);
    if (!res.logged) {
        std::string line = request.id + " " + request.method + " " + request.path + " status=" +
                           std::to_string(res.status) + " total_ms=" +
                           std::to_string(millis_between(started, steady::now()));
        if (res.status >= 400) line += " error=" + res.body;
        log_.line(redact_secrets(std::move(line), secrets_));
    }
    return res;
}

http_response service::route(const http_request& request) {
    const std::string& path = request.path;
    auto method_not_allowed = [&](std::string_view allowed) {
        auto res = error_response(make_status_error(msgbridge::error_type::invalid_request_error, 405,
                                                    "method " + request.method + " is not allowed on " + path +
                                                        " (use " + std::string(allowed) + ")"));
        res.headers.emplace_back("Allow", std::string(allowed));
        return res;
    };
    auto unauthorized = [] {
        return error_response(msgbridge::make_error(
            msgbridge::error_type::authentication_error,
            "invalid or missing API key: send Authorization: Bearer <SERVER_API_KEY> or x-api-key: <SERVER_API_KEY>"));
    };

    if (path == "/v1/messages") {
        if (request.method != "POST") return method_not_allowed("POST");
        if (!authorized(request)) return unauthorized();
        return messages(request);
    }
    if (path == "/v1/messages/count_tokens") {
        if (request.method != "POST") return method_not_allowed("POST");
        if (!authorized(request)) return unauthorized();
        return count_tokens(request);
    }
    if (path == "/v1/models" || path == "/v1/models/") {
        if (request.method != "GET") return method_not_allowed("GET");
        if (!authorized(request)) return unauthorized();
        return models(request);
    }
    if (path.rfind("/v1/models/", 0) == 0) {
        if (request.method != "GET") return method_not_allowed("GET");
        if (!authorized(request)) return unauthorized();
        return model(request, std::string_view(path).substr(11));
    }
    if (path == "/health") {
        if (request.method != "GET") return method_not_allowed("GET");
        return health(request);
    }
    if (path == "/") {
        if (request.method != "GET") return method_not_allowed("GET");
        return root();
    }
    return error_response(msgbridge::make_error(msgbridge::error_type::not_found_error,
                                                "no route for " + request.method + " " + path +
                                                    " (this proxy serves POST /v1/messages, POST "
                                                    "/v1/messages/count_tokens, GET /v1/models)"));
}

http_response service::messages(const http_request& request) {
    const auto started = steady::now();
    if (cfg_.log_body_max_chars > 0)
        log_.line(request.id + " body: " + body_for_log(request.body, cfg_.log_body_max_chars, secrets_));

    // The body's spare capacity lets simdjson parse it in place, without a copy.
    auto converted = converters_.with(request.body.size(), [&](msgbridge::request_converter& converter) {
        return converter.convert(request.body, request.body.capacity());
    });
    if (!converted) {
        const auto& err = converted.error();
        log_.line(request.id + " POST /v1/messages status=" + std::to_string(err.http_status) +
                  " error=" + redact_secrets(err.message, secrets_));
        auto res = error_response(err);
        res.logged = true;
        return res;
    }
    msgbridge::converted_request conv = std::move(converted).value();
    for (const auto& warning : conv.warnings) log_.line(request.id + " warning: " + warning);

    if (cfg_.answer_quota_probe && conv.quota_probe) {
        std::string completion = local_completion(conv.upstream_model, conv.context.estimated_input_tokens, conv.stream);
        http_response res;
        res.headers.emplace_back("x-proxy-local-answer", "quota-probe");
        if (conv.stream) {
            msgbridge::stream_converter local(conv.context);
            std::string events;
            local.feed(completion, events);
            local.finish(events);
            add_sse_headers(res);
            res.stream = std::make_unique<fixed_stream>(std::move(events));
        } else {
            auto body = msgbridge::convert_response(completion, conv.context);
            if (!body) return error_response(body.error());
            res.body = std::move(body).value();
        }
        log_.line(request.id + " POST /v1/messages " + conv.context.client_model + " quota probe answered locally");
        res.logged = true;
        return res;
    }

    if (aborting_) {
        return error_response(msgbridge::make_error(msgbridge::error_type::overloaded_error,
                                                    "the proxy is shutting down; retry the request"));
    }

    if (conv.stream) {
        auto session = std::make_shared<stream_session>(*this, request, std::move(conv));
        add_session(session);
        session->start();
        if (!session->wait_for_commit(std::chrono::seconds(cfg_.stream_commit_after_seconds))) {
            session->join();
            const auto& r = session->result();
            auto res = error_response(r.error);
            if (r.retry_after) res.headers.emplace_back("retry-after", std::to_string(*r.retry_after));
            session->log_summary(r.error.http_status);
            remove_session(session.get());
            res.logged = true;
            return res;
        }
        http_response res;
        add_sse_headers(res);
        res.logged = true;  // the producer writes the line when the stream ends
        res.stream = std::make_unique<session_stream>(session, [this](stream_session* s) { remove_session(s); });
        return res;
    }

    // Non-streaming: the whole exchange on this thread, bounded by UPSTREAM_TIMEOUT_SECONDS.
    upstream_request up;
    up.body = std::move(conv.body);
    up.stream = false;
    up.read_timeout = std::chrono::seconds(cfg_.upstream_timeout_seconds);
    up.total_timeout = std::chrono::seconds(cfg_.upstream_timeout_seconds);
    std::string answer;
    std::optional<steady::time_point> first_byte;
    bool too_large = false;
    loop_hooks hooks;
    hooks.on_commit = [] { return true; };
    hooks.on_quarantine = [&](std::string_view redacted_id, int status) {
        log_quarantine(request.id, redacted_id, status);
    };
    hooks.on_body = [&](std::string_view bytes) {
        if (!first_byte) first_byte = steady::now();
        // The answer is held in memory until it is converted: bound it.
        if (answer.size() + bytes.size() > cfg_.max_upstream_response_bytes) {
            too_large = true;
            return false;
        }
        answer.append(bytes);
        return true;
    };
    cancel_handle cancel;
    std::atomic<bool> client_left{false};
    loop_result r;
    {
        // Nobody would read the answer, and it costs the user quota.
        hangup_watch watch(request.client, [&] {
            client_left = true;
            cancel.cancel();
        });
        r = run_attempts(upstream_, keys_.get(), up, cancel, hooks, upstream_host_of(cfg_.upstream_url));
    }

    http_response res;
    std::uint64_t tokens_in = 0, tokens_out = 0;
    if (!r.committed) {
        res = error_response(r.error);
        if (r.retry_after) res.headers.emplace_back("retry-after", std::to_string(*r.retry_after));
    } else if (too_large) {
        res = error_response(make_status_error(msgbridge::error_type::api_error, 502,
                                               "the upstream's answer exceeded " +
                                                   std::to_string(cfg_.max_upstream_response_bytes) +
                                                   " bytes (MAX_UPSTREAM_RESPONSE_BYTES)"));
    } else if (r.last.what != upstream_outcome::kind::completed) {
        bool timed_out = r.last.what == upstream_outcome::kind::timed_out;
        res = error_response(make_status_error(
            msgbridge::error_type::api_error, timed_out ? 504 : 502,
            timed_out ? "upstream timed out after " + std::to_string(cfg_.upstream_timeout_seconds) +
                            " s (UPSTREAM_TIMEOUT_SECONDS): " + r.last.detail
                      : "upstream connection broke during the answer: " + r.last.detail));
    } else {
        auto body = msgbridge::convert_response(answer, conv.context);
        if (!body) {
            auto err = body.error();
            err.http_status = 502;
            err.type = msgbridge::error_type::api_error;
            err.message = "the upstream's answer could not be converted: " + err.message;
            res = error_response(err);
        } else {
            res.body = std::move(body).value();
            read_usage(res.body, tokens_in, tokens_out);
        }
    }
    const auto finished = steady::now();
    std::string line = request.id + " POST /v1/messages " + conv.context.client_model + " -> " + conv.upstream_model +
                       " stream=false status=" + std::to_string(res.status) + " attempts=" + join_list(r.attempts) +
                       " tokens_in=" + std::to_string(tokens_in) + " tokens_out=" + std::to_string(tokens_out) +
                       " ttfb_ms=" + (first_byte ? std::to_string(millis_between(started, *first_byte)) : "-") +
                       " total_ms=" + std::to_string(millis_between(started, finished));
    if (client_left) line += " client=disconnected";
    if (res.status >= 400) line += " error=" + res.body;
    log_.line(redact_secrets(std::move(line), secrets_));
    res.logged = true;
    return res;
}

http_response service::count_tokens(const http_request& request) {
    auto counted = converters_.with(request.body.size(), [&](msgbridge::request_converter& converter) {
        return converter.count_tokens(request.body, request.body.capacity());
    });
    if (!counted) return error_response(counted.error());
    return json_response(200, "{\"input_tokens\":" + std::to_string(counted.value()) + "}");
}

namespace {

struct listed_model {
    std::string id;
    std::string display_name;
};

bool has_glob(std::string_view text) { return text.find_first_of("*?") != std::string_view::npos; }

// Claude Code lists only ids beginning with "claude", so the mapped
// `claude-*` aliases come first, each showing the upstream model it becomes;
// then the upstream models themselves for other clients.
std::vector<listed_model> model_list(const config& cfg) {
    std::vector<listed_model> list;
    auto add = [&](std::string id, std::string display) {
        for (const auto& m : list) {
            if (m.id == id) return;
        }
        list.push_back({std::move(id), std::move(display)});
    };
    for (const auto& alias : cfg.request.model_map) {
        if (!has_glob(alias.pattern)) add(alias.pattern, alias.upstream_model);
    }
    for (const auto& alias : cfg.request.model_map) add(alias.upstream_model, alias.upstream_model);
    if (!cfg.request.default_model.empty()) add(cfg.request.default_model, cfg.request.default_model);
    for (const auto& profile : cfg.request.profiles) {
        if (!has_glob(profile.match)) add(profile.match, profile.match);
    }
    return list;
}

void write_model(msgbridge::detail::json_writer& w, const listed_model& m) {
    w.start_object();
    w.key("type"); w.string("model");
    w.key("id"); w.string(m.id);
    w.key("display_name"); w.string(m.display_name);
    // The proxy does not know when the upstream published a model; a fixed date keeps the shape valid.
    w.key("created_at"); w.string("2025-01-01T00:00:00Z");
    w.end_object();
}

std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

}  // namespace

http_response service::models(const http_request& request) {
    auto list = model_list(cfg_);
    std::size_t limit = 20;  // Anthropic's default page size; Claude Code asks for 1000
    std::string limit_text = query_param(request.query, "limit");
    if (!limit_text.empty()) {
        if (limit_text.find_first_not_of("0123456789") != std::string::npos || limit_text.size() > 6 ||
            std::stoul(limit_text) < 1 || std::stoul(limit_text) > 1000)
            return error_response(msgbridge::invalid_request("limit: must be a whole number from 1 to 1000"));
        limit = std::stoul(limit_text);
    }
    std::string after = query_param(request.query, "after_id");
    std::size_t begin = 0;
    if (!after.empty()) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (list[i].id == after) begin = i + 1;
        }
    }
    std::size_t end = std::min(list.size(), begin + limit);
    msgbridge::detail::json_writer w;
    w.start_object();
    w.key("data");
    w.start_array();
    for (std::size_t i = begin; i < end; ++i) write_model(w, list[i]);
    w.end_array();
    w.key("has_more"); w.boolean(end < list.size());
    w.key("first_id");
    if (begin < end) w.string(list[begin].id); else w.null();
    w.key("last_id");
    if (begin < end) w.string(list[end - 1].id); else w.null();
    w.end_object();
    return json_response(200, std::string(w.view()));
}

http_response service::model(const http_request&, std::string_view id) {
    for (const auto& m : model_list(cfg_)) {
        if (m.id == id) {
            msgbridge::detail::json_writer w;
            write_model(w, m);
            return json_response(200, std::string(w.view()));
        }
    }
    return error_response(msgbridge::make_error(msgbridge::error_type::not_found_error,
                                                "model: '" + std::string(id) + "' is not configured in model_map"));
}

http_response service::health(const http_request& request) {
    std::string body = "{\"status\":\"ok\",\"version\":\"";
    body += msgbridge::version_string;
    body += "\",\"active_streams\":" + std::to_string(active_streams());
    body += ",\"keys\":" + std::to_string(keys_->size());
    // Per-key counters (redacted ids) only for callers who could use the proxy anyway.
    if (!cfg_.server_api_key.empty() && authorized(request)) body += ",\"key_stats\":" + msgbridge::to_json(keys_->stats());
    else if (cfg_.server_api_key.empty()) body += ",\"key_stats\":" + msgbridge::to_json(keys_->stats());
    body += "}";
    return json_response(200, std::move(body));
}

http_response service::root() {
    msgbridge::detail::json_writer w;
    w.start_object();
    w.key("status"); w.string("ok");
    w.key("name"); w.string("claude-nvidia-proxy");
    w.key("version"); w.string(msgbridge::version_string);
    w.key("message"); w.string("Anthropic Messages API proxy for OpenAI-compatible upstreams");
    w.key("endpoints");
    w.start_array();
    for (const char* e : {"POST /v1/messages", "POST /v1/messages/count_tokens", "GET /v1/models", "GET /health"})
        w.string(e);
    w.end_array();
    w.end_object();
    return json_response(200, std::string(w.view()));
}

}  // namespace proxy
