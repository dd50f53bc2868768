#include <msgbridge.hpp>

#include <string>

std::string odr_b_error_body() {
    return msgbridge::to_json(msgbridge::invalid_request("model: required"));
}
