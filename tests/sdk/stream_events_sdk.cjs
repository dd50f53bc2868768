// End-to-end check with the official Anthropic TypeScript SDK as the consumer
// of our events: each event file is served as the HTTP response of
// client.messages.stream(...) (through the SDK's `fetch` option, so nothing
// leaves the process), and the SDK's own accumulator must rebuild the
// expected message, or raise the expected error.
//
// Usage: node stream_events_sdk.cjs <sdk-dir> <example_stream_events binary> <tests/data/stream dir>
// <sdk-dir> holds node_modules/@anthropic-ai/sdk (`npm ci` in tests/sdk).
// Exits 77 (ctest SKIP_RETURN_CODE) when the SDK is not installed there.
'use strict';
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');

const [sdkDir, exampleBinary, dataDir] = process.argv.slice(2);
let Anthropic;
try {
  const sdk = createRequire(path.join(path.resolve(sdkDir), 'package.json'))('@anthropic-ai/sdk');
  Anthropic = sdk.default ?? sdk.Anthropic ?? sdk;
} catch {
  console.log(`SKIP: @anthropic-ai/sdk is not installed in ${sdkDir} (run npm ci there)`);
  process.exit(77);
}

async function consume(events) {
  const client = new Anthropic({
    apiKey: 'test-key-not-used',
    baseURL: 'http://127.0.0.1:9',
    maxRetries: 0,
    fetch: async () => new Response(events, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
  });
  const stream = client.messages.stream({
    model: 'msgbridge-test-model',  // request side only; a real name may trigger deprecation warnings
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'hi' }],
  });
  const types = [];
  stream.on('streamEvent', (event) => types.push(event.type));
  const message = await stream.finalMessage();
  return { message, types };
}

// The SDK adds its own `parsed_output` (structured outputs) to the final message.
const plain = (value) => {
  const copy = JSON.parse(JSON.stringify(value));
  if (copy && typeof copy === 'object') delete copy.parsed_output;
  return copy;
};

const checks = [
  ['example_stream_events output', async () => {
    const events = execFileSync(exampleBinary, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const { message } = await consume(events);
    assert.deepEqual(plain(message), {
      id: 'msg_example', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'msgbridge.unsigned-thinking.v1' },
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use', stop_sequence: null,
      usage: { input_tokens: 120, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 17 },
    });
  }],
  ['kimi_reasoning_tools.events', async () => {
    const { message, types } = await consume(readFileSync(path.join(dataDir, 'kimi_reasoning_tools.events'), 'utf8'));
    assert.deepEqual(plain(message.content), [
      { type: 'thinking', thinking: 'The user wants the weather in Paris and Tokyo.', signature: 'msgbridge.unsigned-thinking.v1' },
      { type: 'text', text: 'Let me check both cities — ☀️.' },
      { type: 'tool_use', id: 'functions.get_weather:0', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'functions.get_weather:1', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(plain(message.usage), { input_tokens: 388, cache_creation_input_tokens: 0, cache_read_input_tokens: 512, output_tokens: 61 });
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
  }],
  ['text_crlf_no_usage.events', async () => {
    const { message } = await consume(readFileSync(path.join(dataDir, 'text_crlf_no_usage.events'), 'utf8'));
    assert.deepEqual(plain(message.content), [{ type: 'text', text: 'Hello, world!' }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.output_tokens > 0);
  }],
  ['truncated_mid_tool.events ends in an APIError', async () => {
    await assert.rejects(consume(readFileSync(path.join(dataDir, 'truncated_mid_tool.events'), 'utf8')), (error) => {
      assert.equal(error.error?.error?.type, 'api_error');
      assert.match(String(error.message), /upstream stream ended before finish_reason/);
      return true;
    });
  }],
];

(async () => {
  let failed = 0;
  for (const [name, check] of checks) {
    try {
      await check();
      console.log(`ok   ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${name}\n${error.stack ?? error}`);
    }
  }
  process.exit(failed === 0 ? 0 : 1);
})();
