// End to end with a real client: the official Anthropic TypeScript SDK talks
// to the built claude-nvidia-proxy, which talks to a deterministic mock
// OpenAI upstream started here. Everything stays on 127.0.0.1.
//
// Usage: node e2e.mjs <path to claude-nvidia-proxy>
// Exit codes: 0 all passed, 1 a check failed, 77 skipped (SDK not installed).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

let Anthropic;
try {
  ({ default: Anthropic } = await import('@anthropic-ai/sdk'));
} catch {
  console.log('skipped: @anthropic-ai/sdk is not installed (run `npm ci` in tests/sdk)');
  process.exit(77);
}

const proxyBinary = process.argv[2];
if (!proxyBinary || !fs.existsSync(proxyBinary)) {
  console.error(`usage: node e2e.mjs <claude-nvidia-proxy binary> (got ${proxyBinary})`);
  process.exit(1);
}

const UPSTREAM_KEY = 'e2e-upstream-key-0001';

// ---- the mock upstream: answers by the last user message's text ----
const chunk = (delta, extra = {}) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'mock',
                            choices: [{ index: 0, delta, finish_reason: null, ...extra }] })}\n\n`;
const usageChunk = (prompt, completion) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'mock',
                            choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion,
                                                  total_tokens: prompt + completion } })}\n\n`;

const scenarios = {
  'say hello': {
    completion: { content: 'Hello from the mock.', finish_reason: 'stop' },
    stream: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello ' }), chunk({ content: 'from the ' }),
             chunk({ content: 'mock.' }), chunk({}, { finish_reason: 'stop' }), usageChunk(12, 5), 'data: [DONE]\n\n'],
  },
  'use two tools': {
    completion: {
      content: null, finish_reason: 'tool_calls',
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } },
      ],
    },
    stream: [
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '"Europe/Paris"}' } }] }),
      chunk({}, { finish_reason: 'tool_calls' }), usageChunk(30, 20), 'data: [DONE]\n\n',
    ],
  },
  'think first': {
    completion: { content: 'Four.', reasoning_content: '2+2 is 4.', finish_reason: 'stop' },
    stream: [chunk({ role: 'assistant', reasoning_content: '2+2 ' }), chunk({ reasoning_content: 'is 4.' }),
             chunk({ content: 'Four.' }), chunk({}, { finish_reason: 'stop' }), usageChunk(8, 9), 'data: [DONE]\n\n'],
  },
};

const seenAuthorization = [];
const upstream = http.createServer(async (req, res) => {
  let body = '';
  for await (const piece of req) body += piece;
  seenAuthorization.push(req.headers.authorization ?? '');
  const request = JSON.parse(body);
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  const text = typeof lastUser?.content === 'string' ? lastUser.content
    : (lastUser?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
  if (text === 'rate limit me') {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
    res.end(JSON.stringify({ error: { message: 'Too many requests', type: 'rate_limit_exceeded' } }));
    return;
  }
  const scenario = scenarios[text];
  if (!scenario) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `mock has no scenario for ${JSON.stringify(text)}` } }));
    return;
  }
  if (request.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of scenario.stream) res.write(piece);
    res.end();
    return;
  }
  const { finish_reason, ...message } = scenario.completion;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: request.model,
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason }],
    usage: { prompt_tokens: 21, completion_tokens: 7, total_tokens: 28 },
  }));
});
upstream.listen(0, '127.0.0.1');
await once(upstream, 'listening');
const upstreamPort = upstream.address().port;

// ---- the proxy ----
async function freePort() {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');
  return port;
}
const proxyPort = await freePort();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'msgbridge-sdk-'));
const configPath = path.join(workDir, 'config.json');
fs.writeFileSync(configPath, JSON.stringify({
  nvidia_url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`,
  nvidia_keys: [UPSTREAM_KEY],
}));
const proxy = spawn(proxyBinary, [], {
  env: { PATH: process.env.PATH, CONFIG_PATH: configPath, ADDR: `127.0.0.1:${proxyPort}` },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let proxyLog = '';
proxy.stdout.on('data', (d) => { proxyLog += d; });
proxy.stderr.on('data', (d) => { proxyLog += d; });

let proxyExited = false;
proxy.on('exit', () => { proxyExited = true; });
let ready = false;
for (let attempt = 0; attempt < 200 && !ready && !proxyExited; attempt++) {
  try {
    const res = await fetch(`http://127.0.0.1:${proxyPort}/health`);
    ready = res.ok;
  } catch {
    await new Promise((r) => setTimeout(r, 50));
  }
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   - ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL - ${name}: ${err?.stack ?? err}`);
  }
}
function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

if (!ready) {
  console.log(`FAIL - the proxy did not become ready\n${proxyLog}`);
  failed++;
} else {
  const client = new Anthropic({ baseURL: `http://127.0.0.1:${proxyPort}`, apiKey: 'client-key', maxRetries: 0 });
  const ask = (text, extra = {}) => ({
    model: 'z-ai/glm4.7', max_tokens: 256, messages: [{ role: 'user', content: text }], ...extra,
  });
  const tools = [
    { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    { name: 'get_time', description: 'Time in a zone', input_schema: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] } },
  ];

  await check('messages.create returns the text, stop_reason and usage', async () => {
    const message = await client.messages.create(ask('say hello'));
    expectEqual(message.type, 'message', 'type');
    expectEqual(message.role, 'assistant', 'role');
    expectEqual(message.model, 'z-ai/glm4.7', 'model');
    expectEqual(message.content, [{ type: 'text', text: 'Hello from the mock.' }], 'content');
    expectEqual(message.stop_reason, 'end_turn', 'stop_reason');
    expectEqual(message.usage.input_tokens, 21, 'usage.input_tokens');
    expectEqual(message.usage.output_tokens, 7, 'usage.output_tokens');
    if (!message.id.startsWith('msg_')) throw new Error(`id ${message.id} does not start with msg_`);
  });

  await check('what the proxy left out reaches the SDK in x-proxy-warning headers', async () => {
    const request = ask('say hello', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const { data, response } = await client.messages.create(request).withResponse();
    expectEqual(data.content, [{ type: 'text', text: 'Hello from the mock.' }], 'content');
    expectEqual(response.headers.get('x-proxy-warning'),
                'tools: server tools left out (no upstream equivalent): web_search', 'x-proxy-warning');
    const plain = await client.messages.create(ask('say hello')).withResponse();
    expectEqual(plain.response.headers.get('x-proxy-warning'), null, 'x-proxy-warning without a loss');
  });

  await check('messages.stream accumulates the streamed text', async () => {
    const stream = client.messages.stream(ask('say hello'));
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const message = await stream.finalMessage();
    expectEqual(deltas.join(''), 'Hello from the mock.', 'text deltas');
    expectEqual(message.content, [{ type: 'text', text: 'Hello from the mock.' }], 'content');
    expectEqual(message.stop_reason, 'end_turn', 'stop_reason');
    expectEqual(message.usage.output_tokens, 5, 'usage.output_tokens');
  });

  await check('messages.create returns two tool_use blocks with parsed input', async () => {
    const message = await client.messages.create(ask('use two tools', { tools }));
    expectEqual(message.stop_reason, 'tool_use', 'stop_reason');
    expectEqual(message.content.map((b) => [b.type, b.id, b.name, b.input]),
      [['tool_use', 'call_a', 'get_weather', { city: 'Paris' }], ['tool_use', 'call_b', 'get_time', { tz: 'Europe/Paris' }]],
      'content');
  });

  await check('messages.stream rebuilds both tool calls from input_json_delta', async () => {
    const message = await client.messages.stream(ask('use two tools', { tools })).finalMessage();
    expectEqual(message.stop_reason, 'tool_use', 'stop_reason');
    expectEqual(message.content.map((b) => [b.type, b.id, b.name, b.input]),
      [['tool_use', 'call_a', 'get_weather', { city: 'Paris' }], ['tool_use', 'call_b', 'get_time', { tz: 'Europe/Paris' }]],
      'content');
  });

  await check('reasoning becomes a thinking block before the text (stream and not)', async () => {
    const created = await client.messages.create(ask('think first'));
    expectEqual(created.content.map((b) => b.type), ['thinking', 'text'], 'block types');
    expectEqual(created.content[0].thinking, '2+2 is 4.', 'thinking');
    expectEqual(typeof created.content[0].signature, 'string', 'signature type');
    const streamed = await client.messages.stream(ask('think first')).finalMessage();
    expectEqual(streamed.content.map((b) => b.type), ['thinking', 'text'], 'streamed block types');
    expectEqual(streamed.content[0].thinking, '2+2 is 4.', 'streamed thinking');
    expectEqual(streamed.content[1].text, 'Four.', 'streamed text');
  });

  await check('an upstream 429 reaches the SDK as RateLimitError with retry-after', async () => {
    try {
      await client.messages.create(ask('rate limit me'));
      throw new Error('no error was thrown');
    } catch (err) {
      if (!(err instanceof Anthropic.RateLimitError)) throw err;
      expectEqual(err.status, 429, 'status');
      expectEqual(err.error?.type, 'error', 'body type');
      expectEqual(err.error?.error?.type, 'rate_limit_error', 'error type');
      if (!err.headers?.get?.('retry-after')) throw new Error('no retry-after header');
    }
  });

  await check('the upstream saw the configured key as a Bearer token, never the client key', async () => {
    if (seenAuthorization.length === 0) throw new Error('the upstream saw no request');
    for (const auth of seenAuthorization) {
      if (auth !== `Bearer ${UPSTREAM_KEY}`) throw new Error('an upstream request carried another Authorization value');
    }
  });

  await check('the proxy log never contains the upstream key', async () => {
    if (proxyLog.includes(UPSTREAM_KEY)) throw new Error('the upstream key appears in the proxy log');
  });
}

proxy.kill('SIGTERM');
if (!proxyExited) await Promise.race([once(proxy, 'exit'), new Promise((r) => setTimeout(r, 10000))]);
if (!proxyExited) proxy.kill('SIGKILL');
upstream.close();
fs.rmSync(workDir, { recursive: true, force: true });
console.log(`sdk: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
