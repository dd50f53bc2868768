// SPDX-License-Identifier: MIT
#pragma once

#include <utility>

#include <simdjson.h>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// The field walk both readers make over On-Demand objects, in document
// order, with no copy of the object. Forced inline (simdjson's own macro) so
// that the walk itself costs nothing over a loop written out; whether a
// visitor is inlined is still the compiler's choice, which is why the
// request engine's hottest walks are written out (request_hot_walks.hpp).

/// Calls visit(key, value) for each field of `object` and returns the first
/// error: from reading a field, or whatever visit returns other than SUCCESS
/// (which stops the walk). `key` is the raw key, escapes not decoded: the
/// names we dispatch on are plain ASCII, and decoding every key would cost
/// the hot path a copy.
template <class Visit>
simdjson_inline simdjson::error_code for_each_field(simdjson::ondemand::object& object, Visit&& visit) {
    for (auto item : object) {
        simdjson::ondemand::field field;
        if (auto err = std::move(item).get(field)) return err;
        if (auto err = visit(field.key(), field.value())) return err;
    }
    return simdjson::SUCCESS;
}

/// The same over the object that `value` (an ondemand value or document)
/// holds; opening it fails with INCORRECT_TYPE when it holds anything else.
template <class Value, class Visit>
simdjson_inline simdjson::error_code for_each_field(Value& value, Visit&& visit) {
    simdjson::ondemand::object object;
    if (auto err = value.get_object().get(object)) return err;
    return for_each_field(object, std::forward<Visit>(visit));
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
