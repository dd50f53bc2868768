// SPDX-License-Identifier: MIT
#include "stream_session.hpp"

#include <utility>

#include "log.hpp"

namespace proxy {
namespace {

// The converter keeps the answer's first characters for the log line itself.
msgbridge::stream_options stream_options_for(const config& cfg) {
    msgbridge::stream_options options;
    options.text_preview_bytes = cfg.log_stream_text_preview_chars;
    return options;
}

}  // namespace

stream_session::stream_session(const stream_context& context, const http_request& request,
                               msgbridge::converted_request converted)
    : context_(context),
      client_(request.client),
      request_id_(request.id),
      client_address_(request.remote_addr),
      client_model_(converted.context.client_model),
      upstream_model_(converted.upstream_model),
      warnings_(std::move(converted.warnings)),
      response_context_(converted.context),
      converter_(std::in_place, converted.context, stream_options_for(context.settings->cfg)),
      started_(steady::now()) {
    upstream_.body = std::move(converted.body);
    upstream_.stream = true;
    upstream_.read_timeout = std::chrono::seconds(context.settings->cfg.stream_idle_timeout_seconds);
}

void stream_session::start() {
    // A client that hangs up while the upstream has not answered (or is
    // silent) would otherwise be noticed only at the next write.
    hangup_ = std::make_unique<hangup_watch>(client_, [this] { cancel_by_client(); });
    // The job's reference keeps the session alive until produce() has returned.
    if (context_.producers.try_run([self = shared_from_this()] { self->produce(); })) return;
    std::lock_guard<std::mutex> lock(mutex_);
    result_.error = msgbridge::make_error(msgbridge::error_type::overloaded_error,
                                          "the proxy cannot start another stream now (no thread); retry shortly");
    phase_ = phase::failed;
    ended_ = true;
    changed_.notify_all();
}

bool stream_session::wait_for_commit(std::chrono::seconds commit_after) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto decided = [this] { return phase_ != phase::waiting; };
    if (commit_after.count() == 0) {
        changed_.wait(lock, decided);
    } else if (!changed_.wait_for(lock, commit_after, decided)) {
        phase_ = phase::streaming;
        started_early_ = true;
        holding_ = false;
        std::string start;
        converter_->feed({}, start);  // message_start and a ping; the producer feeds only after it commits
        if (!first_byte_) first_byte_ = steady::now();
        pending_ += start;
        return true;
    }
    return phase_ == phase::streaming;
}

bool stream_session::next(std::string& out) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto ping_every = std::chrono::seconds(context_.settings->cfg.ping_interval_seconds);
    while (pending_.empty() && !ended_) {
        if (changed_.wait_for(lock, ping_every) == std::cv_status::timeout && pending_.empty() && !ended_) {
            if (!held_.empty()) {
                release_held();
                continue;
            }
            // Claude Code treats ~20 s without bytes as a stalled stream.
            msgbridge::append_ping_event(out);
            ++pings_;
            return true;
        }
    }
    out += pending_;
    pending_.clear();
    return !ended_;
}

void stream_session::cancel_by_client() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (ended_) return;
        client_gone_ = true;
    }
    cancel_.cancel();
}

void stream_session::abort(const msgbridge::error& err) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (ended_) return;
        abort_error_ = err;
    }
    cancel_.cancel();
}

void stream_session::join() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return ended_; });
}

void stream_session::log_summary(int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    exchange_summary summary;
    summary.request_id = request_id_;
    summary.client_address = client_address_;
    summary.client_model = client_model_;
    summary.upstream_model = upstream_model_;
    summary.stream = true;
    summary.status = status;
    summary.tokens_in = input_tokens_;
    summary.tokens_out = output_tokens_;
    summary.tokens_cache_read = cache_read_tokens_;
    summary.started = started_;
    summary.first_byte = first_byte_;
    summary.finished = finished_.value_or(steady::now());
    summary.pings = pings_;
    summary.client_disconnected = client_gone_;
    summary.ended_by_shutdown = abort_error_.has_value();
    summary.started_early = started_early_;
    summary.end_note = end_note_;
    summary.warnings = &warnings_;
    const settings_generation& settings = *context_.settings;
    context_.observers.finished(settings, summary, result_.attempts);
    const std::size_t preview_chars = settings.cfg.log_stream_text_preview_chars;
    if (preview_chars > 0 && !preview_.empty())
        settings.log.line(request_id_ + " text: " + preview_text(preview_, preview_chars));
}

void stream_session::produce() {
    std::string batch;
    attempt_hooks hooks;
    hooks.on_commit = [this] { return commit(); };
    hooks.on_body = [this, &batch](std::string_view bytes) { return convert_and_push(bytes, batch); };
    hooks.healing = &context_.healing;
    hooks.upstream_model = upstream_model_;
    std::vector<std::string> tries;  // every attempt of both asks, for the summary line
    ending end;
    // An empty answer (NIM under load: thinks, then nothing) is asked for once
    // more, unless the client has seen some of it.
    for (bool may_ask_again = true;; may_ask_again = false) {
        result_ = run_attempts(context_.settings->upstream, request_id_, upstream_, cancel_, hooks);
        context_.health.observe(result_);
        tries.insert(tries.end(), result_.attempts.begin(), result_.attempts.end());
        explain_unmapped_model(result_, client_model_, upstream_model_);
        end = settle();
        batch.clear();
        write_ending(end, batch);
        if (!said_nothing_) break;
        if (!may_ask_again || !unseen()) {
            end_note_ = "empty-answer";
            msgbridge::append_error_event(empty_answer_error(!may_ask_again), batch);
            break;
        }
        context_.settings->log.line(request_id_ + " the model returned an empty answer; asking once more");
        start_over();
    }
    result_.attempts = std::move(tries);
    publish_last(batch);
    // Logged before the stream's end is published, so the line exists by
    // the time the client sees the last byte (the tests rely on that).
    if (end.streaming) log_summary(200);
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    changed_.notify_all();
}

// A 2xx arrived: the handler may answer 200 now, unless nobody wants it.
bool stream_session::commit() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (client_gone_ || abort_error_) return false;
    phase_ = phase::streaming;
    changed_.notify_all();
    return true;
}

// Converts upstream bytes and hands the events to the connection thread;
// false (abort the upstream) once the client is gone or the answer too large.
bool stream_session::convert_and_push(std::string_view upstream_bytes, std::string& batch) {
    // An upstream that never ends (or never stops one event) is cut here.
    upstream_bytes_ += upstream_bytes.size();
    if (upstream_bytes_ > context_.settings->cfg.max_upstream_response_bytes) {
        too_large_ = true;
        return false;
    }
    batch.clear();
    converter_->feed(upstream_bytes, batch);
    cut_empty_end(batch);
    std::lock_guard<std::mutex> lock(mutex_);
    if (client_gone_ || abort_error_) return false;
    if (holding_) {
        held_ += batch;
        batch.clear();
        if (converter_->has_content()) release_held();
    }
    if (!batch.empty()) {
        if (!first_byte_) first_byte_ = steady::now();
        pending_ += batch;
        changed_.notify_all();
    }
    return true;
}

// An answer that ended after a stop with no text and no tool call loses its
// end events (message_delta, message_stop): it is asked for again, or ends
// with an error rather than as an empty success. Reasoning cut by max_tokens
// is an answer the client asked for.
void stream_session::cut_empty_end(std::string& batch) {
    if (said_nothing_ || !converter_->done() || converter_->failed() || !converter_->empty_answer() ||
        converter_->stop_reason() == "max_tokens") {
        return;
    }
    said_nothing_ = true;
    const std::size_t end = batch.find("event: message_delta\n");
    if (end != std::string::npos) batch.erase(end);
}

// Nothing of the answer has reached the client, and it still wants one.
bool stream_session::unseen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return holding_ && !client_gone_ && !abort_error_;
}

// Forgets the empty answer: a new converter for the one more ask.
void stream_session::start_over() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        held_.clear();
    }
    converter_.emplace(response_context_, stream_options_for(context_.settings->cfg));
    said_nothing_ = false;
    upstream_bytes_ = 0;
}

// Under the lock: the held events go to the client.
void stream_session::release_held() {
    holding_ = false;
    if (held_.empty()) return;
    if (!first_byte_) first_byte_ = steady::now();
    pending_ += held_;
    held_.clear();
    changed_.notify_all();
}

// The attempts are over: decides, under the lock, whether a stream is running.
stream_session::ending stream_session::settle() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!result_.committed && phase_ == phase::waiting) {
        // Shut down before the upstream answered: say so, not "cancelled".
        if (abort_error_) result_.error = *abort_error_;
        phase_ = phase::failed;  // the handler answers result_.error; it joins us before reading more
        changed_.notify_all();
    }
    return {phase_ == phase::streaming, client_gone_, abort_error_};
}

// The stream's last events: the converter's normal end, or an `error` event
// saying why the upstream's answer stopped.
void stream_session::write_ending(const ending& end, std::string& batch) {
    if (!end.streaming) return;
    const auto fail = [&](std::string note, std::string message) {
        end_note_ = std::move(note);
        converter_->fail(msgbridge::make_error(msgbridge::error_type::api_error, std::move(message)), batch);
    };
    if (!result_.committed) {
        // Started early, then every attempt failed: the status the client
        // would have got travels as an `error` event.
        if (end.client_gone) return;
        const msgbridge::error& err = end.abort ? *end.abort : result_.error;
        end_note_ = "error-" + std::to_string(err.http_status);
        converter_->fail(err, batch);
        return;
    }
    const upstream_outcome& last = result_.last;
    const config& cfg = context_.settings->cfg;
    if (last.what == upstream_outcome::kind::completed) {
        converter_->finish(batch);
        cut_empty_end(batch);
    } else if (end.abort) {
        converter_->fail(*end.abort, batch);
    } else if (too_large_) {
        fail("too-large", "the upstream's answer exceeded " + std::to_string(cfg.max_upstream_response_bytes) +
                              " bytes (MAX_UPSTREAM_RESPONSE_BYTES)");
    } else if (last.what == upstream_outcome::kind::timed_out) {
        fail("idle-timeout", "the upstream sent nothing for " + std::to_string(cfg.stream_idle_timeout_seconds) +
                                 " s (STREAM_IDLE_TIMEOUT_SECONDS)");
    } else if (last.what != upstream_outcome::kind::cancelled) {
        fail(std::string(outcome_name(last.what)), "the upstream connection broke: " + last.detail);
    }
}

// Hands over the last events and keeps what the summary line needs.
void stream_session::publish_last(const std::string& batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (client_gone_) held_.clear();
    release_held();
    if (!batch.empty() && !client_gone_) {
        if (!first_byte_) first_byte_ = steady::now();
        pending_ += batch;
    }
    input_tokens_ = converter_->input_tokens();
    output_tokens_ = converter_->output_tokens();
    cache_read_tokens_ = converter_->cache_read_input_tokens();
    preview_ = converter_->text_preview();
    finished_ = steady::now();
}

session_stream::~session_stream() {
    // Whatever happened to the connection, the upstream must not outlive it.
    session_->cancel_by_client();
    session_->join();
    done_(session_.get());
}

}  // namespace proxy
