// SPDX-License-Identifier: MIT
#include "attempts.hpp"

#include <cctype>
#include <chrono>
#include <thread>
#include <utility>

#include <msgbridge/response.hpp>

namespace proxy {
namespace {

// Upstream error bodies are kept for the client's error message, not more.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr auto server_error_backoff = std::chrono::milliseconds(250);

long ceil_seconds(std::chrono::milliseconds wait) {
    auto seconds = (wait.count() + 999) / 1000;
    return seconds < 1 ? 1 : static_cast<long>(seconds);
}

msgbridge::error status_error(int status, std::string message) {
    return msgbridge::error{msgbridge::error_type::api_error, status, std::move(message)};
}

// One upstream call, as far as the loop cares.
struct upstream_answer {
    upstream_outcome outcome;
    int status = 0;
    bool committed = false;
    std::string error_body;
    std::string retry_after;
};

class attempt_loop {
public:
    attempt_loop(const upstream_target& target, std::string_view request_id, cancel_handle& cancel,
                 const attempt_hooks& hooks)
        : target_(target), request_id_(request_id), cancel_(cancel), hooks_(hooks) {}

    attempt_result run(const upstream_request& base);

private:
    enum class next_move { try_again, give_up, answer_now };  // give_up: with the last error

    next_move take_key(msgbridge::key_lease& lease);
    upstream_answer post(const upstream_request& request);
    next_move after_answer(msgbridge::key_lease& lease, const std::string& key_id, const upstream_answer& answer);
    next_move after_no_answer(msgbridge::key_lease& lease, const std::string& key_id, const upstream_outcome& out);
    next_move retry_once();
    std::optional<next_move> heal(const upstream_answer& answer);
    void give_up();
    attempt_result finish();
    void note_keyed_answer(int status);
    void keep_refused_keys_in_service(int status);
    msgbridge::error upstream_rejected_keys(const msgbridge::error& upstream) const;

    const upstream_target& target_;
    std::string_view request_id_;
    cancel_handle& cancel_;
    const attempt_hooks& hooks_;

    attempt_result result_;
    msgbridge::key_set tried_;
    bool server_retry_used_ = false;
    std::optional<msgbridge::error> last_error_;
    std::string last_retry_after_;
    int last_status_ = 0;
    // The status every keyed attempt answered with so far, 0 once they differ
    // or one got no answer: all 401 or all 403 blames no single key.
    std::optional<int> same_status_;
    std::vector<std::string> rejected_ids_;  // keys answered 401, for the client's message
    std::vector<std::string> quarantine_notes_;  // logged when the attempts end, unless the quarantine is lifted
    std::optional<std::chrono::milliseconds> pool_wait_;  // from the acquire that found every key tried
    std::string_view base_body_;             // the request body as the handler made it
    std::optional<std::string> fixed_body_;  // the request body once a fix changed it
    std::vector<healing_fix> fixes_;         // applied to fixed_body_, learned before or found now
    bool healed_ = false;                    // the one self-healing retry is spent
    std::string learned_labels_;             // the learned fixes the first attempt was sent with, for the log
};

attempt_result attempt_loop::run(const upstream_request& base) {
    base_body_ = base.body;
    if (hooks_.healing != nullptr) {
        fixes_ = hooks_.healing->known(target_.host, hooks_.upstream_model);
        fixed_body_ = apply_fixes(base.body, fixes_);
        if (fixed_body_) {
            for (const healing_fix& fix : fixes_)
                learned_labels_ += (learned_labels_.empty() ? "" : ",") + fix_label(fix);
        }
    }
    for (int attempt = 0; attempt < msgbridge::default_max_attempts; ++attempt) {
        msgbridge::key_lease lease;
        next_move move = take_key(lease);
        if (move == next_move::try_again) {
            upstream_request request = base;
            if (fixed_body_) request.body = *fixed_body_;
            if (lease) request.api_key = std::string(lease.key());
            const std::string key_id = lease ? std::string(lease.redacted_id()) : std::string("no-key");
            const upstream_answer answer = post(request);
            result_.last = answer.outcome;
            if (answer.committed) {
                result_.attempts.push_back(key_id + ":" + std::to_string(answer.status));
                if (lease) {
                    (void)lease.report(answer.outcome.what == upstream_outcome::kind::completed
                                           ? msgbridge::key_outcome::success
                                           : msgbridge::key_outcome::transient);
                }
                result_.committed = true;
                return finish();
            }
            move = answer.outcome.got_headers && answer.outcome.what == upstream_outcome::kind::completed
                       ? after_answer(lease, key_id, answer)
                       : after_no_answer(lease, key_id, answer.outcome);
        }
        if (move == next_move::answer_now) return finish();
        if (move == next_move::give_up) break;
    }
    give_up();
    return finish();
}

// A key for the next attempt (none without keys); answer_now when the pool
// has none to give.
attempt_loop::next_move attempt_loop::take_key(msgbridge::key_lease& lease) {
    if (target_.keys == nullptr || target_.keys->empty()) return next_move::try_again;
    auto got = target_.keys->acquire(tried_);
    if (got.status == msgbridge::acquire_status::leased) {
        lease = std::move(got.lease);
        return next_move::try_again;
    }
    if (last_error_ && got.status == msgbridge::acquire_status::exhausted) {
        if (got.wait.count() > 0) pool_wait_ = got.wait;
        return next_move::give_up;
    }
    const long wait = ceil_seconds(got.wait);
    if (got.status == msgbridge::acquire_status::quarantined) {
        result_.error = last_error_ ? *last_error_
                                    : status_error(503, "every upstream key is out of service after the upstream "
                                                        "rejected it (401/403); check nvidia_keys / PROVIDER_API_KEYS");
    } else {
        result_.error = msgbridge::make_error(msgbridge::error_type::rate_limit_error,
                                              "every upstream key is cooling down after rate limiting (429) or has used "
                                              "its requests per minute (key_rpm); retry in " +
                                                  std::to_string(wait) + " s");
    }
    result_.retry_after = wait;
    return next_move::answer_now;
}

upstream_answer attempt_loop::post(const upstream_request& request) {
    upstream_answer answer;
    upstream_callbacks callbacks;
    callbacks.on_headers = [&](int status, std::string_view retry_after) {
        answer.status = status;
        answer.retry_after = retry_after;
        if (status >= 200 && status < 300) {
            answer.committed = hooks_.on_commit();
            return answer.committed;
        }
        return true;
    };
    callbacks.on_data = [&](std::string_view bytes) {
        if (answer.committed) return hooks_.on_body(bytes);
        if (answer.error_body.size() < max_error_body)
            answer.error_body.append(bytes.substr(0, max_error_body - answer.error_body.size()));
        return true;
    };
    answer.outcome = target_.transport.send(request, callbacks, cancel_);
    return answer;
}

// The upstream answered in full with a status that did not commit.
attempt_loop::next_move attempt_loop::after_answer(msgbridge::key_lease& lease, const std::string& key_id,
                                                   const upstream_answer& answer) {
    result_.attempts.push_back(key_id + ":" + std::to_string(answer.status));
    last_error_ = msgbridge::convert_upstream_error(answer.status, answer.error_body);
    if (lease) {
        // Some upstreams quote the key they rejected; the client must not see it.
        last_error_->message = redact_secrets(std::move(last_error_->message), {std::string(lease.key())});
        // Copied first: the lease is spent once it reports.
        std::string redacted(lease.redacted_id());
        auto reported = lease.report(msgbridge::outcome_for_status(answer.status), answer.retry_after);
        if (reported.newly_quarantined) {
            quarantine_notes_.push_back(std::string(request_id_) + " key " + redacted +
                                        " quarantined: the upstream answered " + std::to_string(answer.status) +
                                        "; it is skipped for " + std::to_string(ceil_seconds(reported.cooldown)) + " s");
        }
        if (answer.status == 401) rejected_ids_.push_back(std::move(redacted));
        note_keyed_answer(answer.status);
    }
    last_retry_after_ = answer.retry_after;
    last_status_ = answer.status;
    if (answer.status == 429 || answer.status == 401 || answer.status == 403) {
        if (!lease) return next_move::give_up;  // no keys to rotate through
        tried_.insert(lease.index());
        return next_move::try_again;
    }
    if (auto healed = heal(answer)) return *healed;
    if (answer.status >= 500) return retry_once();
    return next_move::give_up;
}

// An error the upstream explains (a parameter or an input it does not take)
// is retried once with exactly that adjusted, and remembered for the model.
std::optional<attempt_loop::next_move> attempt_loop::heal(const upstream_answer& answer) {
    if (hooks_.healing == nullptr || healed_ || cancel_.cancelled()) return std::nullopt;
    const std::optional<healing_fix> fix = recognise_fix(answer.status, answer.error_body);
    if (!fix) return std::nullopt;
    for (const healing_fix& applied : fixes_)
        if (applied.same_as(*fix)) return std::nullopt;  // applied and still refused: not the cure
    std::optional<std::string> body = apply_fixes(fixed_body_ ? *fixed_body_ : base_body_, {*fix});
    if (!body) return std::nullopt;  // nothing in the request to adjust
    healed_ = true;
    fixed_body_ = std::move(body);
    fixes_.push_back(*fix);
    result_.attempts.back() += " healed=" + fix_label(*fix);
    const std::string learned = hooks_.healing->learn(target_.host, hooks_.upstream_model, *fix);
    if (!learned.empty()) target_.log.line(learned);
    return next_move::try_again;
}

// No complete answer: the connection failed, timed out or was cancelled.
attempt_loop::next_move attempt_loop::after_no_answer(msgbridge::key_lease& lease, const std::string& key_id,
                                                      const upstream_outcome& out) {
    result_.attempts.push_back(key_id + ":" + std::string(outcome_name(out.what)));
    if (lease) {
        (void)lease.report(msgbridge::key_outcome::transient);
        note_keyed_answer(0);
    }
    last_status_ = 0;
    const std::string upstream = "upstream " + target_.host;
    switch (out.what) {
        case upstream_outcome::kind::connect_failed:
            last_error_ = status_error(502, upstream + " unreachable: " + out.detail);
            return retry_once();
        case upstream_outcome::kind::io_failed:
            last_error_ = status_error(502, upstream + " connection failed: " + out.detail);
            return retry_once();
        case upstream_outcome::kind::tls_failed:
            result_.error = status_error(502, upstream + " TLS failed: " + out.detail);
            return next_move::answer_now;
        case upstream_outcome::kind::timed_out:
            result_.error = status_error(504, upstream + " timed out: " + out.detail);
            return next_move::answer_now;
        case upstream_outcome::kind::cancelled:
        case upstream_outcome::kind::completed:
            break;
    }
    result_.error = status_error(500, "the request was cancelled");
    return next_move::answer_now;
}

// A connection failure or 5xx gets one more try, after a short pause.
attempt_loop::next_move attempt_loop::retry_once() {
    if (server_retry_used_ || cancel_.cancelled()) return next_move::give_up;
    server_retry_used_ = true;
    std::this_thread::sleep_for(server_error_backoff);
    return next_move::try_again;
}

void attempt_loop::give_up() {
    result_.error = last_error_ ? *last_error_
                                : msgbridge::make_error(msgbridge::error_type::api_error, "no upstream attempt was made");
    if (last_status_ == 429) {
        // The pool knows when its first key is usable again; the upstream's
        // own header only matters without keys to rotate.
        std::optional<std::chrono::milliseconds> wait = pool_wait_;
        if (!wait && !last_retry_after_.empty())
            wait = msgbridge::parse_retry_after(last_retry_after_, std::chrono::system_clock::now());
        result_.retry_after = ceil_seconds(wait.value_or(std::chrono::seconds(1)));
    }
}

void attempt_loop::note_keyed_answer(int status) {
    if (!same_status_) same_status_ = status;
    else if (*same_status_ != status) same_status_ = 0;
}

// The attempts are over, answered or not: settle the keys' fate and make sure
// the client is never told to log in again because the proxy's keys failed.
attempt_result attempt_loop::finish() {
    // The log line says when a request went out changed by what was learned before.
    if (!learned_labels_.empty() && !result_.attempts.empty()) result_.attempts.front() += " fixed=" + learned_labels_;
    const int refused_alike = result_.committed ? 0 : same_status_.value_or(0);
    if (refused_alike == 401 || refused_alike == 403) {
        keep_refused_keys_in_service(refused_alike);
    } else {
        for (const std::string& note : quarantine_notes_) target_.log.line(note, log_level::warn);
    }
    if (!result_.committed && result_.error.http_status == 401) result_.error = upstream_rejected_keys(result_.error);
    return std::move(result_);
}

// Every key tried was refused with the same status: the account or this
// request is refused (a WAF, a model the account may not use), not a key.
// Quarantining them all would turn one refusal into an outage.
void attempt_loop::keep_refused_keys_in_service(int status) {
    target_.keys->lift_quarantine(tried_);
    target_.log.line(std::string(request_id_) + " every key tried (" + std::to_string(tried_.size()) +
                     ") was refused with " + std::to_string(status) +
                     ": the upstream refuses the account or this request, not one key; the keys stay in service",
                     log_level::warn);
}

// A 401 is about the proxy's upstream credentials, never the client's: as
// a 401 it would make Claude Code ask its user to log in again.
msgbridge::error attempt_loop::upstream_rejected_keys(const msgbridge::error& upstream) const {
    std::string message = "upstream " + target_.host;
    if (rejected_ids_.empty()) {
        message += " asks for an API key (401) and the proxy has none configured; set nvidia_keys or PROVIDER_API_KEYS";
    } else {
        message += " rejected " + std::to_string(rejected_ids_.size()) + " of the proxy's upstream keys (401):";
        for (std::size_t i = 0; i < rejected_ids_.size(); ++i) message += (i == 0 ? " " : ", ") + rejected_ids_[i];
        message += "; check nvidia_keys / PROVIDER_API_KEYS";
    }
    message += " (upstream said: " + upstream.message + ")";
    return status_error(502, std::move(message));
}

}  // namespace

attempt_result run_attempts(const upstream_target& target, std::string_view request_id, const upstream_request& base,
                            cancel_handle& cancel, const attempt_hooks& hooks) {
    return attempt_loop(target, request_id, cancel, hooks).run(base);
}

void explain_unmapped_model(attempt_result& result, std::string_view client_model, std::string_view upstream_model) {
    if (result.committed || client_model != upstream_model || client_model.substr(0, 6) != "claude") return;
    const int status = result.last.status;
    std::string lower = result.error.message;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool about_model = status == 404 || ((status == 400 || status == 422) && lower.find("model") != std::string::npos);
    if (result.last.what != upstream_outcome::kind::completed || !about_model) return;
    result.error.message += " (the proxy sent the model name '" + std::string(client_model) +
                            "' unchanged: no model mapping matches it. Map it to an upstream model with MODEL_MAP, "
                            "e.g. MODEL_MAP='" + std::string(client_model.substr(0, client_model.find('-', 7))) +
                            "-*=z-ai/glm5', or set DEFAULT_MODEL; see docs/claude-code.md)";
}

msgbridge::error empty_answer_error(bool asked_twice) {
    return status_error(502, std::string("the model returned an empty answer (no text, no tool call)") +
                                 (asked_twice ? ", twice" : "") + "; retry the request");
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

}  // namespace proxy
