// The official openai client against shirg-server's OpenAI-compatible API (docs/server.md).
// usage (from the repository root, server started with --http-port 8000):
//   node tools/npm/openai_example.mjs [IMAGE] [QUESTION]
// OPENAI_BASE_URL (default http://127.0.0.1:8000/v1) and OPENAI_API_KEY (the server's
// --auth-token, if any) are read by the client.
import OpenAI from "openai";
import { readFileSync } from "node:fs";

const [imagePath = "clients/samples/bar_chart.png", question = "What is the highest bar?"] =
  process.argv.slice(2);
const client = new OpenAI({
  baseURL: process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8000/v1",
  apiKey: process.env.OPENAI_API_KEY ?? "none",
});
const image = readFileSync(imagePath).toString("base64");
const request = {
  model: "tiny",
  messages: [{
    role: "user",
    content: [
      { type: "text", text: question },
      { type: "image_url", image_url: { url: `data:image/png;base64,${image}` } },
    ],
  }],
  max_tokens: 16,
  seed: 1,
  steps: 8, mode: "shirg", k: 576,  // extra fields: the server's own options
};

const r = await client.chat.completions.create(request);
console.log(JSON.stringify(r.choices[0].message.content), r.choices[0].finish_reason, r.usage);

const stream = await client.chat.completions.create({ ...request, stream: true });
for await (const chunk of stream) {
  const c = chunk.choices[0];
  const where = chunk.shirg ? `step ${chunk.shirg.step}/${chunk.shirg.total_steps}` : "final";
  console.log(where.padEnd(9), JSON.stringify(c.delta.content ?? ""), c.finish_reason ?? "");
}
