#!/usr/bin/env node
// Drives shirg-server's OpenAI-compatible API with the official `openai` npm client, for the
// server's integration tests (tests/server/test_server_openai.cpp).
// usage: node openai_check.js SPEC_JSON   (a file) -> one JSON object on stdout
//   spec: {"base_url", "api_key", "scenario", "image": PNG path, "question", "body": {extra
//          request fields: max_tokens, seed, steps, mode, ...}, "abort_after": N}
//   scenario chat    -> {content, finish_reason, usage, id, object, model, shirg, request_id}
//            stream  -> {content, finish_reason, usage, chunks, steps: [step of each chunk],
//                        role_first, finish_chunks, object}
//            error   -> {status, error: {message, type, param, code}, headers}  (the call must fail;
//                        body.stream true fails on the streaming call)
//            models  -> {ids: [...], object}
//            abort   -> streams and stops reading after `abort_after` chunks: {chunks}
'use strict';
const fs = require('fs');
const OpenAI = require('openai').default;

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = new OpenAI({
    baseURL: spec.base_url,
    apiKey: spec.api_key || 'none',
    maxRetries: 0,
    timeout: 120000,
  });
  const messages = () => [{
    role: 'user',
    content: [
      { type: 'text', text: spec.question },
      {
        type: 'image_url',
        image_url: { url: 'data:image/png;base64,' + fs.readFileSync(spec.image).toString('base64') },
      },
    ],
  }];
  const params = (extra) => Object.assign({ model: spec.model, messages: messages() }, spec.body || {}, extra);
  let out;
  switch (spec.scenario) {
    case 'chat': {
      const { data: r, response } = await client.chat.completions.create(params({})).withResponse();
      out = {
        content: r.choices[0].message.content,
        role: r.choices[0].message.role,
        finish_reason: r.choices[0].finish_reason,
        choices: r.choices.length,
        usage: r.usage,
        id: r.id,
        object: r.object,
        model: r.model,
        shirg: r.shirg,
        request_id: response.headers.get('x-request-id'),
      };
      break;
    }
    case 'stream': {
      const stream = await client.chat.completions.create(
        params({ stream: true, stream_options: { include_usage: true } }));
      out = { content: '', chunks: 0, steps: [], finish_reason: null, usage: null, role_first: null,
              finish_chunks: 0 };
      for await (const chunk of stream) {
        out.object = chunk.object;
        out.chunks += 1;
        if (chunk.usage) out.usage = chunk.usage;
        if (chunk.shirg && chunk.shirg.step) out.steps.push(chunk.shirg.step);
        if (chunk.choices.length === 0) continue;
        const c = chunk.choices[0];
        if (out.role_first === null) out.role_first = c.delta.role || '';
        if (c.delta.content) out.content += c.delta.content;
        if (c.finish_reason) {
          out.finish_reason = c.finish_reason;
          out.finish_chunks += 1;
        }
      }
      break;
    }
    case 'error': {
      try {
        if (spec.body && spec.body.stream) {
          const stream = await client.chat.completions.create(params({}));
          for await (const chunk of stream) void chunk;
        } else {
          await client.chat.completions.create(params({}));
        }
        out = { status: 0, error: null };  // no error: the test fails on status 0
      } catch (e) {
        if (!(e instanceof OpenAI.APIError)) throw e;
        out = {
          status: e.status === undefined ? null : e.status,
          error: e.error,
          type: e.type,
          code: e.code,
          param: e.param,
          message: e.message,
          retry_after: e.headers ? e.headers.get('retry-after') : null,
        };
      }
      break;
    }
    case 'models': {
      const list = await client.models.list();
      out = { ids: list.data.map((m) => m.id), objects: list.data.map((m) => m.object) };
      break;
    }
    case 'abort': {
      const stream = await client.chat.completions.create(params({ stream: true }));
      out = { chunks: 0 };
      for await (const chunk of stream) {
        void chunk;
        out.chunks += 1;
        if (out.chunks >= spec.abort_after) break;  // the SDK aborts the HTTP request
      }
      break;
    }
    default:
      throw new Error('unknown scenario ' + spec.scenario);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
